"""Node preparation in the lab: the sonic and jetson roles' facts, variants and refusals.

Every variant changes one thing on a lab host (a /host directory, the mgmt VRF flag, a
control-plane ACL, a fake tool), runs the role, reads its real results and puts the host back.
"""

import ipaddress
import re
import shlex
from pathlib import Path

import pytest
from conftest import (
    CONFIG_DB,
    L3MDEV,
    SWITCHES,
    SYSCTL_FILE,
    failures,
    inventory,
    no_change,
    read_facts,
    read_json,
    run_play,
    run_role,
    write_json,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.own_lab(
    scenario="node_prep",
    reason="the sonic and jetson roles alone, without K3s (converge.yml): a variant changes what K3s runs on",
)

DEFAULT_MODULES = (
    *("br_netfilter", "overlay", "vxlan", "xt_multiport", "xt_conntrack", "xt_comment", "xt_mark"),
    *("ip_tables", "iptable_nat", "iptable_filter", "nf_conntrack", "nf_nat"),
)


# --- sonic ---------------------------------------------------------------------------------------

# Every switch, the K3s server (sonic-1) and the agent (sonic-2), gets the sonic role: the tests that
# take `switch` run on each (the `sonic` fixture follows it), the others on the server.
on_each_switch = pytest.mark.parametrize(("switch", "sonic"), [(s, s) for s in SWITCHES], indirect=["sonic"])
# Each switch routes its own VLAN (tests/lab/lab.py, SWITCH_PREFIXES).
VLAN1000 = {"sonic-1": "172.20.10.0/24", "sonic-2": "172.20.11.0/24"}


@on_each_switch
def test_node_prep_sonic_facts_match_the_config_db(switch, sonic, lab_hostvars):
    config = read_json(sonic, CONFIG_DB)
    results = run_role(switch, "sonic", after=read_facts("sonic_facts", "sonic_k3s_data_dir"))[0]
    assert not failures(results), failures(results)
    facts = results["read facts"][switch]["msg"]["sonic_facts"]
    address = lab_hostvars[switch]["ansible_host"]
    subnet = ipaddress.ip_network(f"{address}/24", strict=False)
    assert facts["is_sonic"] is True and facts["source"] == CONFIG_DB
    assert facts["hostname"] == config["DEVICE_METADATA"]["localhost"]["hostname"] == switch
    assert facts["hwsku"] == config["DEVICE_METADATA"]["localhost"]["hwsku"]
    assert (facts["mgmt_interface"], facts["mgmt_address"], facts["mgmt_prefix"]) == ("eth0", address, f"{address}/24")
    assert facts["mgmt_gateway"] == str(subnet[1])
    assert facts["mgmt_vrf_enabled"] is False
    expected = {
        (table, key.split("|")[0], str(ipaddress.ip_network(key.split("|")[1], strict=False)))
        for table in ("INTERFACE", "VLAN_INTERFACE", "PORTCHANNEL_INTERFACE", "LOOPBACK_INTERFACE", "MGMT_INTERFACE")
        for key in config.get(table, {})
        if "|" in key
    }
    assert {(s["table"], s["interface"], s["network"]) for s in facts["subnets"]} == expected
    assert ("VLAN_INTERFACE", "Vlan1000", VLAN1000[switch]) in expected and len(expected) == 4
    assert facts["ctrlplane_acl_tables"] == [] and facts["ctrlplane_acl_in_use"] is False


@on_each_switch
def test_node_prep_sonic_without_host_partition_keeps_k3s_in_var_lib_and_warns(switch, sonic):
    # The lab's switch has /host (a volume): a switch without the partition is one whose partition is elsewhere.
    missing = "/nonexistent-partition"
    assert not sonic.file(missing).exists
    results = run_role(
        switch, "sonic", after=read_facts("sonic_k3s_data_dir"), extra_vars={"sonic_persistent_dir": missing}
    )[0]
    assert not failures(results), failures(results)
    assert results["read facts"][switch]["msg"]["sonic_k3s_data_dir"] == "/var/lib/rancher/k3s"
    warned = results["edgefaas.platform.sonic : Warn that K3s's state will not survive an image upgrade"][switch][
        "warnings"
    ]
    assert f"{switch} is a SONiC switch without {missing}" in warned[0], warned
    assert "the next sonic-installer image upgrade replaces" in warned[0], warned
    assert sonic.file("/var/lib/rancher/k3s").is_directory
    assert sonic.file("/var/lib/rancher/k3s").mode == 0o755


@pytest.fixture
def host_partition(sonic):
    """The lab switch's /host, a mount of its own as on a switch, without the directory the role makes there."""
    assert sonic.check_output("findmnt -n -o TARGET /host") == "/host", "the lab's switch has no /host volume"
    sonic.check_output("rm -rf /host/k3s")
    yield


@on_each_switch
@pytest.mark.usefixtures("host_partition")
def test_node_prep_sonic_puts_k3s_on_host_when_it_exists(switch, sonic):
    results, stats = run_role(switch, "sonic", after=read_facts("sonic_k3s_data_dir", "sonic_facts"))
    msg = results["read facts"][switch]["msg"]
    assert msg["sonic_k3s_data_dir"] == "/host/k3s"
    assert msg["sonic_facts"]["persistent_dir"] == "/host"
    assert sonic.file("/host/k3s").is_directory
    assert stats[switch]["changed"] == 1  # the directory, nothing else
    assert not results["edgefaas.platform.sonic : Warn that K3s's state will not survive an image upgrade"][switch].get(
        "warnings"
    )
    again = run_role(switch, "sonic")[1]
    assert again[switch]["changed"] == 0


@on_each_switch
@pytest.mark.usefixtures("writable_proc_sys")
def test_node_prep_sonic_mgmt_vrf_sets_l3mdev_accept(switch, sonic, config_db_restored):
    config = config_db_restored
    config["MGMT_VRF_CONFIG"]["vrf_global"]["mgmtVrfEnabled"] = "true"
    write_json(sonic, CONFIG_DB, config)
    for name in L3MDEV:
        assert sonic.check_output(f"sysctl -n {name}") == "0"
    results, stats = run_role(switch, "sonic", after=read_facts("sonic_facts"))
    assert not failures(results), failures(results)
    assert results["read facts"][switch]["msg"]["sonic_facts"]["mgmt_vrf_enabled"] is True
    assert stats[switch]["changed"] >= 1
    persisted = sonic.file(SYSCTL_FILE).content_string
    for name in L3MDEV:
        assert sonic.check_output(f"sysctl -n {name}") == "1"
        assert f"{name}=1" in persisted
    again = run_role(switch, "sonic")[1]
    assert again[switch]["changed"] == 0
    # drift: the running value is put back even though the file is right
    sonic.check_output("sysctl -qw net.ipv4.udp_l3mdev_accept=0")
    drift = run_role(switch, "sonic", check=True)[1]
    assert drift[switch]["changed"] == 1
    assert sonic.check_output("sysctl -n net.ipv4.udp_l3mdev_accept") == "0"  # check mode changed nothing
    run_role(switch, "sonic")
    assert sonic.check_output("sysctl -n net.ipv4.udp_l3mdev_accept") == "1"


@on_each_switch
def test_node_prep_sonic_without_mgmt_vrf_leaves_sysctls_alone(switch, sonic):
    assert not sonic.file(SYSCTL_FILE).exists
    for name in L3MDEV:
        assert sonic.check_output(f"sysctl -n {name}") == "0"


SSH_ONLY = {
    "ACL_TABLE": {"SSH_ONLY": {"type": "CTRLPLANE", "stage": "ingress", "services": ["SSH"], "policy_desc": "SSH"}},
    "ACL_RULE": {"SSH_ONLY|RULE_1": {"PRIORITY": "9999", "PACKET_ACTION": "ACCEPT", "SRC_IP": "10.77.0.0/16"}},
}


# The K3s ports of each switch's K3s role: the kubelet's and flannel's VXLAN on every node, the API on the server.
K3S_TABLES = {
    "sonic-1": ["EDGEFAAS_K3S_TCP_10250", "EDGEFAAS_K3S_TCP_6443", "EDGEFAAS_K3S_UDP_8472"],
    "sonic-2": ["EDGEFAAS_K3S_TCP_10250", "EDGEFAAS_K3S_UDP_8472"],
}


@on_each_switch
def test_node_prep_sonic_ctrlplane_acl_accepts_k3s_ports(switch, sonic, config_db_restored, lab_hostvars):
    original = config_db_restored
    write_json(sonic, CONFIG_DB, {**original, **SSH_ONLY})
    # check mode reports the change and writes nothing
    check = run_role(switch, "sonic", check=True)[1]
    assert check[switch]["changed"] == 1
    assert read_json(sonic, CONFIG_DB) == {**original, **SSH_ONLY}

    results, stats = run_role(switch, "sonic", after=read_facts("sonic_facts"))
    assert not failures(results), failures(results)
    assert results["read facts"][switch]["msg"]["sonic_facts"]["ctrlplane_acl_in_use"] is True
    assert stats[switch]["changed"] == 1
    config = read_json(sonic, CONFIG_DB)
    assert sorted(config["ACL_TABLE"]) == [*K3S_TABLES[switch], "SSH_ONLY"]
    assert config["ACL_TABLE"]["EDGEFAAS_K3S_TCP_10250"]["services"] == ["EXTERNAL_CLIENT"]
    assert config["ACL_TABLE"]["EDGEFAAS_K3S_UDP_8472"]["services"] == ["ANY"]
    # every other K3s node may reach the ports, nothing else
    peers = sorted(
        f"{lab_hostvars[h]['ansible_host']}/32" for h in ("sonic-1", "sonic-2", "nano-1", "nano-2") if h != switch
    )
    for table in K3S_TABLES[switch]:
        rules = [r for key, r in config["ACL_RULE"].items() if key.startswith(table + "|")]
        assert sorted(r["SRC_IP"] for r in rules) == peers
        assert all(r["PACKET_ACTION"] == "ACCEPT" for r in rules)
        assert len({r["PRIORITY"] for r in rules}) == len(rules)  # caclmgrd keys rules by priority
    assert config["ACL_RULE"]["SSH_ONLY|RULE_1"] == SSH_ONLY["ACL_RULE"]["SSH_ONLY|RULE_1"]
    # everything else is the same data
    assert {k: v for k, v in config.items() if not k.startswith("ACL_")} == original

    again = run_role(switch, "sonic")[1]
    assert again[switch]["changed"] == 0

    # the operator drops their control-plane ACL: ours go too (they alone would keep caclmgrd's final DROP on)
    config = read_json(sonic, CONFIG_DB)
    del config["ACL_TABLE"]["SSH_ONLY"], config["ACL_RULE"]["SSH_ONLY|RULE_1"]
    write_json(sonic, CONFIG_DB, config)
    removed = run_role(switch, "sonic")[1]
    assert removed[switch]["changed"] == 1
    assert read_json(sonic, CONFIG_DB) == {**original, "ACL_TABLE": {}, "ACL_RULE": {}}


@on_each_switch
def test_node_prep_sonic_without_ctrlplane_acl_adds_none(switch, sonic):
    """A first CTRLPLANE table would switch caclmgrd's final DROP on: a switch without any gets none."""
    assert not read_json(sonic, CONFIG_DB).get("ACL_TABLE")
    results = run_role(switch, "sonic", after=read_facts("sonic_facts"))[0]
    assert results["read facts"][switch]["msg"]["sonic_facts"]["ctrlplane_acl_in_use"] is False
    assert not read_json(sonic, CONFIG_DB).get("ACL_TABLE")


@pytest.fixture
def fake_sonic_cfggen(sonic):
    """A stand-in sonic-cfggen printing a running CONFIG_DB that differs from the file."""
    running = read_json(sonic, CONFIG_DB)
    running["DEVICE_METADATA"]["localhost"]["hostname"] = "sonic-running"
    running["VLAN_INTERFACE"]["Vlan2000|172.21.0.1/24"] = {}
    write_json(sonic, "/root/node-prep-running.json", running)
    script = '#!/bin/sh\n[ "$*" = "-d --print-data" ] || exit 2\nexec cat /root/node-prep-running.json\n'
    sonic.check_output(f"printf '%s' {shlex.quote(script)} > /usr/local/bin/sonic-cfggen")
    sonic.check_output("chmod 0755 /usr/local/bin/sonic-cfggen")
    yield
    sonic.check_output("rm -f /usr/local/bin/sonic-cfggen /root/node-prep-running.json")


@pytest.mark.usefixtures("fake_sonic_cfggen")
def test_node_prep_sonic_prefers_the_running_config(sonic):
    results, stats = run_role("sonic-1", "sonic", after=read_facts("sonic_facts"))
    facts = results["read facts"]["sonic-1"]["msg"]["sonic_facts"]
    assert facts["source"] == "running" and facts["hostname"] == "sonic-running"
    assert "172.21.0.0/24" in [s["network"] for s in facts["subnets"]]
    assert stats["sonic-1"]["changed"] == 0
    # the running subnets are checked too, and the message says where they come from
    results = run_role("sonic-1", "sonic", {"sonic_k3s_cluster_cidr": "172.21.0.0/16"})[0]
    message = next(iter(failures(results).values()))["msg"]
    assert "sonic_k3s_cluster_cidr 172.21.0.0/16 overlaps 172.21.0.0/24" in message, message
    assert "VLAN_INTERFACE 'Vlan2000|172.21.0.1/24' in the running CONFIG_DB" in message, message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"sonic_k3s_cluster_cidr": "172.20.0.0/16"},
            "sonic_k3s_cluster_cidr 172.20.0.0/16 overlaps 172.20.10.0/24"
            " (VLAN_INTERFACE 'Vlan1000|172.20.10.1/24' in /etc/sonic/config_db.json)",
        ),
        (
            {"sonic_k3s_service_cidr": "240.127.0.0/16"},
            "sonic_k3s_service_cidr 240.127.0.0/16 overlaps 240.127.1.0/24 (SONiC's docker bridge docker0",
        ),
        (
            {"sonic_k3s_cluster_cidr": "10.77.0.0/16"},
            "sonic_k3s_cluster_cidr 10.77.0.0/16 overlaps 10.77.5.0/24 (MGMT_INTERFACE 'eth0|10.77.5.10/24'",
        ),
        (
            {"sonic_k3s_cluster_cidr": "10.0.0.0/8"},
            "sonic_k3s_cluster_cidr 10.0.0.0/8 overlaps 10.0.0.0/31 (INTERFACE 'Ethernet0|10.0.0.0/31'",
        ),
        (
            {"sonic_k3s_service_cidr": "10.42.128.0/17"},
            "sonic_k3s_cluster_cidr 10.42.0.0/16 overlaps 10.42.128.0/17 (sonic_k3s_service_cidr)",
        ),
        ({"sonic_k3s_cluster_cidr": "10.42.0.0/33"}, "sonic_k3s_cluster_cidr '10.42.0.0/33' is not a network"),
        # node_prep checks the networks the k3s stage will use: the inventory's k3s_server_* settings
        (
            {"k3s_server_cluster_cidr": "172.20.0.0/16"},
            "sonic_k3s_cluster_cidr 172.20.0.0/16 overlaps 172.20.10.0/24",
        ),
    ],
    ids=["vlan", "docker-bridge", "mgmt", "interface", "cluster-vs-service", "not-a-cidr", "k3s-server-setting"],
)
def test_node_prep_sonic_refuses_overlapping_cidrs(extra, message, lab_hostvars, run_playbook, sonic):
    data_dir = "/var/lib/edgefaas-node-prep-test"
    rc, output = run_playbook(
        "edgefaas.platform.node_prep",
        inventory({"sonic": ["sonic-1"]}, lab_hostvars),
        {**extra, "sonic_k3s_default_data_dir": data_dir},
    )
    assert rc != 0, output
    assert message in output, output
    assert "Nothing was changed" in output or "not a network" in output, output
    assert no_change(output), output
    assert not sonic.file(data_dir).exists  # refused before the first change


# The lab's layout: sonic-2 is a K3s agent.
SITE = {
    "k3s_server": ["sonic-1"],
    "k3s_agents": ["sonic-2", "nano-1", "nano-2"],
    "sonic": ["sonic-1", "sonic-2"],
    "jetson": ["nano-1", "nano-2"],
}


@pytest.mark.parametrize("sonic", ["sonic-2"], indirect=True)
def test_k3s_refuses_a_sonic_agent_whose_subnet_overlaps_before_any_change(lab_hostvars, run_playbook, sonic):
    """Only sonic-2's VLAN (172.20.11.0/24) overlaps: the k3s stage names that switch and changes no node."""
    data_dir = "/var/lib/edgefaas-node-prep-test"
    rc, output = run_playbook(
        "edgefaas.platform.k3s",
        inventory(SITE, lab_hostvars),
        {"k3s_server_cluster_cidr": "172.20.11.0/25", "sonic_k3s_default_data_dir": data_dir},
    )
    assert rc != 0, output
    assert (
        "sonic-2: refusing K3s networks that overlap the switch's: sonic_k3s_cluster_cidr 172.20.11.0/25 overlaps"
        " 172.20.11.0/24 (VLAN_INTERFACE 'Vlan1000|172.20.11.1/24' in /etc/sonic/config_db.json)"
    ) in output, output
    assert "sonic-1: refusing" not in output, output
    assert no_change(output), output
    assert not sonic.file(data_dir).exists


# --- jetson --------------------------------------------------------------------------------------


LAB_PYTHON = "/opt/python3/bin/python3"  # the nanos' interpreter (inventories/lab/group_vars/jetson.yml)


def test_node_prep_jetson_facts(lab_hostvars):
    after = read_facts("jetson_facts", "ansible_python_interpreter", "jetson_k3s_agent_config")
    results = run_role("jetson", "jetson", after=after)[0]
    assert not failures(results), failures(results)
    for name in ("nano-1", "nano-2"):
        msg = results["read facts"][name]["msg"]
        facts = msg["jetson_facts"]
        assert facts["is_jetson"] is True
        assert (facts["l4t_release"], facts["jetpack"], facts["board"]) == ("32.7.1", "4.6.1", "t210ref")
        assert msg["ansible_python_interpreter"] == facts["python"] == LAB_PYTHON
        assert facts["memory_cgroup"] is True
        # the requested modules, not the files of a directory of the lab's module tree
        assert sorted(facts["kernel_modules"]) == sorted(DEFAULT_MODULES)
        assert all(facts["kernel_modules"].values()), facts["kernel_modules"]
        assert facts["nvidia_runtime"]["present"] is False and msg["jetson_k3s_agent_config"] == {}


# Modules only the lab's L4T-like tree has (tests/lab/files/l4t-modules/): never loaded on the
# machine whose kernel the containers share, so /proc/modules and /sys/module cannot answer for them.
TREE_MODULES = {"nvgpu": "kernel/drivers/gpu/nvgpu/nvgpu.ko", "tegra_profiler": "modules.builtin"}


def test_node_prep_jetson_finds_modules_in_the_kernels_module_tree(nano2):
    release = nano2.check_output("uname -r")
    after = read_facts("jetson_facts")
    results, stats = run_role("nano-2", "jetson", {"jetson_required_kernel_modules": list(TREE_MODULES)}, after=after)
    assert not failures(results), failures(results)
    facts = results["read facts"]["nano-2"]["msg"]["jetson_facts"]
    assert facts["kernel_release"] == release
    assert facts["kernel_modules"] == {
        "nvgpu": f"loadable (/lib/modules/{release}/kernel/drivers/gpu/nvgpu/nvgpu.ko)",
        "tegra_profiler": "built in (modules.builtin)",
    }
    assert stats["nano-2"]["changed"] == 0


def test_node_prep_jetson_refuses_exactly_the_missing_kernel_module(lab_hostvars, run_playbook):
    modules = [*TREE_MODULES, "edgefaas_missing_mod"]
    rc, output = run_playbook(
        "edgefaas.platform.node_prep",
        inventory({"jetson": ["nano-1"]}, lab_hostvars),
        {"jetson_required_kernel_modules": modules},
    )
    assert rc != 0, output
    assert re.search(r"nano-1: kernel modules K3s needs are missing from kernel \S+: edgefaas_missing_mod \(", output)
    assert "remove it from jetson_required_kernel_modules" in output, output
    assert "modprobe edgefaas_missing_mod" in output, output
    assert no_change(output), output


def test_node_prep_jetson_python_has_no_apt_bindings_like_a_nano(nano2, play):
    """The lab reproduces L4T R32: ansible.builtin.apt cannot work with the nanos' interpreter."""
    assert nano2.run(f"{LAB_PYTHON} -c 'import apt'").rc != 0
    assert nano2.run("/usr/bin/python3 -c 'import apt'").rc != 0  # no respawn target either
    packages = {"name": ["sudo", "python3"], "state": "present"}
    results = play("nano-2", [{"name": "apt", "ansible.builtin.apt": packages}], check=True)
    assert results["apt"]["nano-2"]["failed"] is True
    assert "python3-apt must be installed" in results["apt"]["nano-2"]["msg"]
    for check in (True, False):
        results = play("nano-2", [{"name": "deb", "edgefaas.platform.deb_packages": packages}], check=check)
        result = results["deb"]["nano-2"]
        assert not result.get("failed") and result["changed"] is False, result
        assert sorted(result["packages"]) == ["python3", "sudo"] and all(result["packages"].values()), result


@pytest.fixture
def old_python(nano2):
    """nano-2 as an L4T R32 host: the only Python on the candidate list is too old."""
    nano2.check_output(
        "printf '#!/bin/sh\\nexit 1\\n' > /usr/local/bin/edgefaas-python3.6 && chmod 0755 /usr/local/bin/edgefaas-python3.6"
    )
    yield
    nano2.check_output("rm -f /usr/local/bin/edgefaas-python3.6 /usr/local/bin/edgefaas-python3.8")


def run_python_bootstrap(extra, after=(), check=False):
    """python.yml on nano-2 for an inventory that sets no interpreter (an operator relying on the bootstrap).

    The lab's inventory sets one; play vars outrank it and set_fact outranks them, as in a real run.
    """
    tasks = [
        {
            "name": "run the role",
            "ansible.builtin.include_role": {"name": "edgefaas.platform.jetson", "tasks_from": "python"},
        }
    ]
    spec = {"hosts": "nano-2", "gather_facts": False, "vars": {"ansible_python_interpreter": "auto_silent"}}
    return run_play([{**spec, "tasks": [*tasks, *after]}], check=check, extra_vars=extra)


@pytest.mark.usefixtures("old_python")
def test_node_prep_jetson_bootstraps_python_with_raw(nano2):
    extra = {
        "jetson_python_candidates": ["/usr/local/bin/edgefaas-python3.6", "/usr/local/bin/edgefaas-python3.8"],
        # stands in for `apt-get install python3.8`, which Debian bookworm does not package
        "jetson_python_install_command": "ln -s /usr/bin/python3 /usr/local/bin/edgefaas-python3.8",
    }
    after = [
        {"name": "a module runs", "ansible.builtin.setup": {"gather_subset": ["!all", "!min", "python"]}},
        *read_facts("ansible_python_interpreter"),
    ]
    results, stats = run_python_bootstrap(extra, after)
    assert not failures(results), failures(results)
    installs = [r for name, hosts in results.items() if "Install a Python" in name for r in hosts.values()]
    assert installs and installs[0]["changed"] is True
    assert results["read facts"]["nano-2"]["msg"]["ansible_python_interpreter"] == "/usr/local/bin/edgefaas-python3.8"
    assert results["a module runs"]["nano-2"]["ansible_facts"]["ansible_python"]["executable"].endswith("python3.8")
    assert stats["nano-2"]["changed"] == 1
    results, stats = run_python_bootstrap(extra, after)
    assert stats["nano-2"]["changed"] == 0 and not failures(results)
    # no Python at all and an install that brings none: the message names the candidates and the command
    extra = {"jetson_python_candidates": ["/nowhere/python3"], "jetson_python_install_command": "true"}
    results = run_python_bootstrap(extra)[0]
    message = next(iter(failures(results).values()))["msg"]
    assert "nano-2: no Python >= 3.8 among /nowhere/python3 after running `true`" in message, message


@pytest.fixture
def nvidia_runtime(nano2):
    nano2.check_output("printf '#!/bin/sh\\n' > /usr/local/bin/nvidia-container-runtime")
    nano2.check_output("chmod 0755 /usr/local/bin/nvidia-container-runtime")
    yield
    nano2.check_output("rm -f /usr/local/bin/nvidia-container-runtime")


@pytest.mark.usefixtures("nvidia_runtime")
@pytest.mark.parametrize(
    ("mode", "agent_config", "runtime_class"),
    [("runtimeclass", {}, "nvidia"), ("default", {"default-runtime": "nvidia"}, "")],
)
def test_node_prep_jetson_nvidia_runtime_facts(mode, agent_config, runtime_class):
    after = read_facts("jetson_nvidia_runtime", "jetson_k3s_agent_config")
    results, stats = run_role("nano-2", "jetson", {"jetson_nvidia_runtime_mode": mode}, after=after)
    msg = results["read facts"]["nano-2"]["msg"]
    runtime = msg["jetson_nvidia_runtime"]
    assert runtime["present"] is True and runtime["path"] == "/usr/local/bin/nvidia-container-runtime"
    assert runtime["runtime_class"] == runtime_class
    assert msg["jetson_k3s_agent_config"] == agent_config
    assert stats["nano-2"]["changed"] == 0


LOCAL_REPO = "/srv/edgefaas-node-prep-repo"
LOCAL_SOURCES = "/etc/apt/sources.list.d/edgefaas-node-prep.list"
PROBE_PACKAGES = {"edgefaas-probe": "edgefaas-probe-dep", "edgefaas-probe-dep": ""}


@pytest.fixture
def local_repository(nano2):
    """A flat apt repository of two tiny packages on nano-2 (probe depends on probe-dep): nothing downloaded."""
    script = [f"mkdir -p {LOCAL_REPO}/build && cd {LOCAL_REPO}"]
    for name, depends in PROBE_PACKAGES.items():
        control = f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: lab <lab@localhost>\n"
        control += (f"Depends: {depends}\n" if depends else "") + "Description: node_prep test package\n"
        script += [
            f"mkdir -p build/{name}/DEBIAN && printf '%s' {shlex.quote(control)} > build/{name}/DEBIAN/control",
            f"dpkg-deb --root-owner-group -b build/{name} {name}_1.0-1_all.deb >/dev/null",
            f"{{ dpkg-deb -f {name}_1.0-1_all.deb; echo Filename: ./{name}_1.0-1_all.deb;"
            f" echo Size: $(stat -c %s {name}_1.0-1_all.deb);"
            f" echo SHA256: $(sha256sum {name}_1.0-1_all.deb | cut -d' ' -f1); echo; }} >> Packages",
        ]
    script += [
        f"echo 'deb [trusted=yes] file:{LOCAL_REPO} ./' > {LOCAL_SOURCES}",
        # this source alone: the test needs no mirror
        f"apt-get update -qq -o Dir::Etc::SourceList={LOCAL_SOURCES} -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0",
    ]
    nano2.check_output(" && ".join(script))
    yield
    nano2.check_output(f"dpkg --purge {' '.join(PROBE_PACKAGES)} >/dev/null; rm -rf {LOCAL_REPO} {LOCAL_SOURCES}")
    nano2.check_output("rm -f /var/lib/apt/lists/_srv_edgefaas-node-prep-repo_*")


@pytest.mark.usefixtures("local_repository")
def test_node_prep_deb_packages_installs_with_the_nanos_python(nano2, play):
    """deb_packages on the interpreter without apt bindings: check, real, idempotent, idempotent check."""
    task = [{"name": "deb", "edgefaas.platform.deb_packages": {"name": ["edgefaas-probe"]}, "diff": True}]
    expected = ["edgefaas-probe-dep=1.0-1", "edgefaas-probe=1.0-1"]
    check = play("nano-2", task, check=True)["deb"]["nano-2"]
    assert check["changed"] is True and check["installed"] == expected, check
    assert check["diff"] == {"before": "edgefaas-probe (not installed)\n", "after": "edgefaas-probe 1.0-1\n"}
    assert nano2.run("dpkg-query -W edgefaas-probe").rc != 0  # check mode installed nothing
    real = play("nano-2", task)["deb"]["nano-2"]
    assert real["changed"] is True and real["installed"] == expected and real["packages"] == {"edgefaas-probe": "1.0-1"}
    for name in PROBE_PACKAGES:
        assert nano2.package(name).is_installed
    for check_mode in (False, True):
        again = play("nano-2", task, check=check_mode)["deb"]["nano-2"]
        assert again["changed"] is False and again["installed"] == [], again
