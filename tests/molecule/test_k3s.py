"""K3s in the lab: the cluster through the real kubectl, files and secrets, refusals, reset and upgrade.

The server runs on sonic-1 and agents on sonic-2 (a second switch) and nano-1/nano-2 from the lab's air-gap directory (the K3s
double in front of a real kube-apiserver). Tests run in file order: the cluster is converged on
entry and each test leaves it converged, until the reset and upgrade tests at the end.
"""

import datetime
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import (
    CONFIG_DB,
    L3MDEV,
    changed_counts,
    lab_host,
    run_play,
    run_stage,
    write_json,
)

ARTIFACTS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgefaas" / "lab-artifacts"
VERSION = "v1.37.2+k3s1"
NEXT_VERSION = "v1.37.2+k3s2"
AIRGAP = ARTIFACTS / "k3s" / VERSION
KUBECONFIG = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "kubeconfig"
NANOS = ["nano-1", "nano-2"]
AGENTS = ["sonic-2", *NANOS]  # a switch and the Jetsons
HOSTS = ["sonic-1", *AGENTS]
DEVICE = {"sonic-1": "sonic", "sonic-2": "sonic", "nano-1": "jetson", "nano-2": "jetson"}
# The server's secrets live beside K3s's data (on /host on SONiC), not under /etc.
SERVER_SECRET_FILES = ["edgefaas/server-token", "edgefaas/agent-token-secret"]
NODE_PASSWORD = "/etc/rancher/node/password"
# Tests that change the cluster for good (reset, upgrade, reflash, a new image) or its settings run on
# the k3s scenario's own lab; the read-only ones run on the site lab (molecule/default).
K3S_LAB = pytest.mark.own_lab(scenario="k3s")


def kubectl(*args):
    """The real kubectl on the controller, with the kubeconfig the role fetched."""
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(KUBECONFIG), *args], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def nodes():
    return {n["metadata"]["name"]: n for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]}


def ready(node):
    return [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]


def k3s_stage(extra_vars=None, **options):
    return run_stage("edgefaas.platform.k3s", extra_vars, **options)


def assert_converged(rc, output):
    assert rc == 0, output[-4000:]
    counts = changed_counts(output)
    assert counts and not any(counts.values()), (counts, output[-4000:])


def flat(output):
    """The output with the YAML callback's line wrapping undone (long messages are folded)."""
    return " ".join(output.split())


def assert_refused_without_change(rc, output, *messages):
    assert rc != 0, output[-4000:]
    for message in messages:
        assert message in output or message in flat(output), (message, output[-4000:])
    counts = changed_counts(output)
    assert counts and not any(counts.values()), (counts, output[-4000:])


@pytest.fixture(scope="module")
def hosts():
    return {name: lab_host(name) for name in HOSTS}


@pytest.fixture(scope="module")
def address(lab_hostvars):
    return {name: lab_hostvars[name]["ansible_host"] for name in HOSTS}


def data_dir(host):
    """K3s's data directory on a host, as its config.yaml names it."""
    return yaml.safe_load(host.file("/etc/rancher/k3s/config.yaml").content_string)["data-dir"]


@pytest.fixture(scope="module")
def server_secrets(hosts):
    """Paths of the server's generated secrets."""
    return [f"{data_dir(hosts['sonic-1'])}/{name}" for name in SERVER_SECRET_FILES]


@pytest.fixture(scope="module")
def secrets(hosts, server_secrets):
    """Every K3s secret in the lab: the generated secrets and the K10 tokens K3s derived from them."""
    sonic = hosts["sonic-1"]
    found = [sonic.check_output(f"cat {path}").strip() for path in server_secrets]
    found += [hosts[n].check_output("cat /etc/rancher/k3s/agent-token").strip() for n in AGENTS]
    assert all(len(s) >= 32 for s in found), "a token is shorter than expected"
    return sorted(set(found))


def binary_sha(hosts):
    return {name: host.check_output("sha256sum /usr/local/bin/k3s").split()[0] for name, host in hosts.items()}


# --- the converged cluster ------------------------------------------------------------------------


def test_k3s_nodes_are_ready_and_labelled_through_the_real_kubectl():
    found = nodes()
    assert sorted(found) == sorted(HOSTS)
    for name, node in found.items():
        assert ready(node), (name, node["status"]["conditions"])
        labels = node["metadata"]["labels"]
        role = "server" if name == "sonic-1" else "agent"
        assert labels["edgefaas.io/role"] == role and labels["edgefaas.io/device"] == DEVICE[name], labels
        assert node["status"]["nodeInfo"]["kubeletVersion"] == VERSION
    assert found["sonic-1"]["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"


def test_k3s_kubeconfig_on_the_controller_points_at_the_switch(address):
    assert KUBECONFIG.stat().st_mode & 0o777 == 0o600
    config = json.loads(kubectl("config", "view", "-o", "json"))
    assert config["current-context"] == "edgefaas"
    assert config["clusters"][0]["cluster"]["server"] == f"https://{address['sonic-1']}:6443"


@pytest.mark.parametrize(
    ("name", "service", "files"),
    [
        ("sonic-1", "k3s", ["/etc/rancher/k3s/config.yaml", "/etc/systemd/system/k3s.service.env"]),
        ("nano-1", "k3s-agent", ["/etc/rancher/k3s/config.yaml", "/etc/systemd/system/k3s-agent.service.env"]),
        ("nano-2", "k3s-agent", ["/etc/rancher/k3s/agent-token", "/etc/rancher/node/password"]),
        ("sonic-2", "k3s-agent", ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/agent-token"]),
    ],
)
def test_k3s_services_enabled_and_files_private(hosts, server_secrets, name, service, files):
    host = hosts[name]
    files = files + (server_secrets if name == "sonic-1" else [])
    assert host.service(service).is_enabled and host.service(service).is_running
    for path in files:
        f = host.file(path)
        assert f.exists and f.user == "root" and f.mode == 0o600, (path, oct(f.mode))
    assert host.file(f"/etc/systemd/system/{service}.service").mode == 0o644


def test_k3s_switches_keep_k3s_data_on_host_whatever_their_role(hosts):
    """Server and agent alike: the data directory on the partition that survives SONiC image upgrades."""
    for name in ("sonic-1", "sonic-2"):
        assert data_dir(hosts[name]) == "/host/k3s", name
        assert hosts[name].file("/host/k3s/edgefaas").is_directory, name
    assert data_dir(hosts["nano-1"]) == "/var/lib/rancher/k3s"


def test_k3s_config_holds_no_secret_and_agents_join_with_the_token_file(hosts, secrets, server_secrets, address):
    for name, host in hosts.items():
        config = host.file("/etc/rancher/k3s/config.yaml").content_string
        assert not any(s in config for s in secrets), name
    agent = hosts["nano-1"].file("/etc/rancher/k3s/config.yaml").content_string
    assert "token-file: /etc/rancher/k3s/agent-token" in agent
    assert f"server: https://{address['sonic-1']}:6443" in agent
    # agents hold the agent-only token (K10<CA hash>::node:<secret>), never the server token
    agent_token = hosts["nano-1"].check_output("cat /etc/rancher/k3s/agent-token")
    assert agent_token.startswith("K10") and "::node:" in agent_token
    server_secret = hosts["sonic-1"].check_output(f"cat {server_secrets[0]}").strip()
    assert server_secret not in agent_token


def test_k3s_secrets_are_in_no_log_and_no_file_others_can_read(hosts, secrets, server_secrets):
    for name, host in hosts.items():
        service = "k3s" if name == "sonic-1" else "k3s-agent"
        journal = host.check_output(f"journalctl -u {service} --no-pager -o cat")
        assert not any(s in journal for s in secrets), f"a token is in {name}'s journal"
        # The patterns come from the token files on the host: a secret on a command line would itself
        # land in sudo's log. The bare secret (after the last colon) is in every form of a token.
        sources = " ".join(server_secrets) if name == "sonic-1" else "/etc/rancher/k3s/agent-token"
        hits = host.run(
            "bash -c 'grep -rlsF -f <(sed \"s/.*://\" %s) /etc /var/lib/rancher /host /run /root /home /tmp /var/log'"
            % sources
        ).stdout.split()
        assert hits, f"the search found not even the token files on {name}"
        for path in hits:
            assert host.file(path).mode & 0o077 == 0, f"{name}:{path} holds a token and others can read it"
    rc, output = k3s_stage({"k3s_agent_node_labels": {"tier": "edge"}}, check=True, diff=True)
    assert rc == 0, output[-4000:]
    assert not any(s in output for s in secrets), "a token is in the playbook's output"


# --- check mode and changes -----------------------------------------------------------------------


def test_k3s_check_mode_on_the_converged_lab_reports_no_change():
    assert_converged(*k3s_stage(check=True, diff=True))


def test_k3s_an_inventory_of_the_earlier_layout_describes_the_same_cluster(run_playbook, lab_hostvars):
    """Group sonic as the server, jetson as the agents, no K3s groups: the converged nodes need no change."""
    earlier = {
        "sonic": {"hosts": {"sonic-1": lab_hostvars["sonic-1"]}},
        "jetson": {"hosts": {name: lab_hostvars[name] for name in NANOS}},
    }
    rc, output = run_playbook(
        "edgefaas.platform.k3s", {"all": {"children": {"edge": {"children": earlier}}}}, check=True
    )
    assert_converged(rc, output)
    assert sorted(changed_counts(output)) == ["nano-1", "nano-2", "sonic-1"]


def test_k3s_changed_setting_shows_in_check_mode_diff_and_changes_nothing(hosts, secrets):
    before = {n: h.check_output("sha256sum /etc/rancher/k3s/config.yaml") for n, h in hosts.items()}
    rc, output = k3s_stage({"k3s_server_tls_san": ["k3s.edge.example"]}, check=True, diff=True)
    assert rc == 0, output[-4000:]
    assert "+- k3s.edge.example" in output, output[-4000:]
    assert changed_counts(output)["sonic-1"] >= 1 and changed_counts(output)["nano-1"] == 0
    assert not any(s in output for s in secrets)
    assert before == {n: h.check_output("sha256sum /etc/rancher/k3s/config.yaml") for n, h in hosts.items()}


@K3S_LAB
@pytest.mark.destructive
def test_k3s_labels_and_taints_follow_the_inventory():
    extra = {"k3s_agent_node_labels": {"tier": "edge"}, "k3s_agent_node_taints": ["edgefaas.io/gpu=yes:NoSchedule"]}
    rc, output = k3s_stage(extra)
    assert rc == 0, output[-4000:]
    for name in NANOS:
        node = nodes()[name]
        assert node["metadata"]["labels"]["tier"] == "edge"
        assert {"key": "edgefaas.io/gpu", "value": "yes", "effect": "NoSchedule"} in node["spec"]["taints"]
    # drift on the cluster is put back; labels set by others stay
    kubectl("label", "node", "nano-1", "edgefaas.io/role-", "team=vision")
    rc, output = k3s_stage(extra)
    assert rc == 0 and changed_counts(output)["nano-1"] == 1, output[-4000:]
    assert nodes()["nano-1"]["metadata"]["labels"]["edgefaas.io/role"] == "agent"
    # taken out of the inventory: taken off the node (K3s's agent alone never removes a label)
    rc, output = k3s_stage()
    assert rc == 0, output[-4000:]
    for name in NANOS:
        node = nodes()[name]
        assert "tier" not in node["metadata"]["labels"] and not node["spec"].get("taints"), node["metadata"]
        assert ready(node)
    assert nodes()["nano-1"]["metadata"]["labels"]["team"] == "vision"
    kubectl("label", "node", "nano-1", "team-")
    assert_converged(*k3s_stage())


@pytest.fixture
def nvidia_runtime(hosts):
    """nano-2 with an executable nvidia-container-runtime where K3s's agent looks for one."""
    path = "/usr/local/bin/nvidia-container-runtime"
    hosts["nano-2"].check_output(f"printf '#!/bin/sh\\n' > {path} && chmod 0755 {path}")
    yield
    hosts["nano-2"].check_output(f"rm -f {path}")
    rc, output = k3s_stage()
    assert rc == 0, output[-4000:]


@K3S_LAB
@pytest.mark.destructive
@pytest.mark.usefixtures("nvidia_runtime")
def test_k3s_nvidia_runtime_gets_its_runtimeclass_or_becomes_the_default(hosts):
    rc, output = k3s_stage()
    assert rc == 0, output[-4000:]
    runtime_class = json.loads(kubectl("get", "runtimeclass", "nvidia", "-o", "json"))
    assert runtime_class["handler"] == "nvidia"
    assert_converged(*k3s_stage())
    rc, output = k3s_stage({"jetson_nvidia_runtime_mode": "default"})
    assert rc == 0 and changed_counts(output)["nano-2"] >= 1, output[-4000:]
    assert "default-runtime: nvidia" in hosts["nano-2"].file("/etc/rancher/k3s/config.yaml").content_string
    assert "default-runtime" not in hosts["nano-1"].file("/etc/rancher/k3s/config.yaml").content_string
    assert ready(nodes()["nano-2"])


@pytest.fixture
def mgmt_vrf(hosts, writable_proc_sys, config_db_restored):
    """sonic-1 with SONiC's management VRF on (config_db.json), put back afterwards."""
    config = config_db_restored
    config["MGMT_VRF_CONFIG"]["vrf_global"]["mgmtVrfEnabled"] = "true"
    write_json(hosts["sonic-1"], CONFIG_DB, config)
    return hosts["sonic-1"]  # the fixtures put config_db.json and the sysctls back


@K3S_LAB
@pytest.mark.destructive
def test_k3s_with_the_mgmt_vrf_on_sets_l3mdev_accept_and_keeps_the_cluster(mgmt_vrf):
    rc, output = k3s_stage()
    assert rc == 0 and changed_counts(output)["sonic-1"] >= 1, output[-4000:]
    for name in L3MDEV:
        assert mgmt_vrf.check_output(f"sysctl -n {name}") == "1"
    assert all(ready(node) for node in nodes().values())
    assert_converged(*k3s_stage())


# --- refusals: each names the problem and changes nothing -----------------------------------------


@pytest.fixture
def airgap_copy(tmp_path):
    """A copy of the lab's air-gap directory for the test to spoil."""
    copy = tmp_path / "airgap"
    shutil.copytree(AIRGAP, copy)
    return copy


def test_k3s_checksum_mismatch_fails_and_leaves_the_binary_untouched(hosts, airgap_copy):
    before = binary_sha(hosts)
    with (airgap_copy / "k3s").open("ab") as binary:
        binary.write(b"\n# tampered\n")
    rc, output = k3s_stage({"k3s_airgap_dir": str(airgap_copy)})
    assert_refused_without_change(rc, output, f"{airgap_copy}/k3s has sha256", "Nothing was installed")
    assert binary_sha(hosts) == before


@K3S_LAB
@pytest.mark.destructive
def test_k3s_airgap_images_bundle_is_verified_and_goes_to_the_images_dir(hosts, airgap_copy):
    bundle = airgap_copy / "k3s-airgap-images-amd64.tar.zst"
    bundle.write_bytes(b"a stand-in for K3s's images bundle: checked and copied, never unpacked\n")
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    sums = airgap_copy / "sha256sum-amd64.txt"
    sums.write_text(sums.read_text() + f"{digest}  {bundle.name}\n")
    rc, output = k3s_stage({"k3s_airgap_dir": str(airgap_copy)})
    assert rc == 0, output[-4000:]
    for name, host in hosts.items():
        copied = host.file(f"{data_dir(host)}/agent/images/{bundle.name}")
        assert copied.exists and copied.sha256sum == digest, name
    assert "Importing images from" in hosts["sonic-1"].check_output("journalctl -u k3s --no-pager -o cat")
    assert_converged(*k3s_stage({"k3s_airgap_dir": str(airgap_copy)}))
    bundle.write_bytes(b"tampered\n")
    rc, output = k3s_stage({"k3s_airgap_dir": str(airgap_copy)})
    assert_refused_without_change(rc, output, f"checksum mismatch for {bundle}")


def test_k3s_checksum_file_without_the_binary_is_refused(airgap_copy):
    sums = airgap_copy / "sha256sum-amd64.txt"
    sums.write_text("".join(line for line in sums.read_text().splitlines(True) if not line.rstrip().endswith(" k3s")))
    rc, output = k3s_stage({"k3s_airgap_dir": str(airgap_copy)})
    assert_refused_without_change(rc, output, f"{airgap_copy}/k3s is not listed in {airgap_copy}/sha256sum-amd64.txt")


def test_k3s_missing_artifact_is_refused_naming_the_file(tmp_path):
    rc, output = k3s_stage({"k3s_airgap_dir": str(tmp_path)})
    assert_refused_without_change(
        rc, output, "is incomplete on the controller", f"{tmp_path}/sha256sum-amd64.txt and {tmp_path}/k3s missing"
    )


def test_k3s_unknown_architecture_is_refused():
    rc, output = k3s_stage({"k3s_release_files": {"riscv64": {"arch": "riscv64", "binary": "k3s-riscv64"}}})
    assert_refused_without_change(rc, output, "sonic-1: K3s has no release for architecture 'x86_64'")


def test_k3s_cluster_cidr_overlapping_the_switch_is_refused(address):
    rc, output = k3s_stage({"k3s_server_cluster_cidr": "10.77.0.0/16"})
    assert_refused_without_change(rc, output, "sonic_k3s_cluster_cidr 10.77.0.0/16 overlaps", "Nothing was changed")


def test_k3s_missing_kernel_module_on_a_nano_is_refused():
    modules = ["br_netfilter", "overlay", "vxlan", "edgefaas_missing_mod"]
    rc, output = k3s_stage({"jetson_required_kernel_modules": modules})
    assert_refused_without_change(rc, output, "kernel modules K3s needs are missing", "edgefaas_missing_mod")


def test_k3s_host_in_both_device_groups_is_refused(run_playbook, lab_hostvars):
    inventory = {
        "all": {
            "children": {
                "edge": {
                    "children": {
                        "sonic": {"hosts": {"sonic-1": lab_hostvars["sonic-1"]}},
                        "jetson": {"hosts": {h: lab_hostvars[h] for h in HOSTS}},
                    }
                }
            }
        }
    }
    rc, output = run_playbook("edgefaas.platform.k3s", inventory)
    assert rc != 0 and "sonic-1 in both device groups sonic and jetson" in output, output[-4000:]
    assert "changed=0" in output and "changed=1" not in output


def join_elsewhere(port, token_path):
    """A play that points the agents' join at another port or token path of the server."""
    return {
        "hosts": "sonic-1",
        "gather_facts": False,
        "tasks": [
            {
                "name": "join info",
                "ansible.builtin.set_fact": {
                    "k3s_server_join": {
                        "url": "https://{{ ansible_host }}:%d" % port,
                        "host": "{{ ansible_host }}",
                        "port": port,
                        "agent_token_path": token_path,
                    }
                },
            }
        ],
    }


def agent_play(**extra):
    return {
        "hosts": "nano-1",
        "gather_facts": False,
        "vars": extra,
        "tasks": [{"name": "agent", "ansible.builtin.include_role": {"name": "edgefaas.platform.k3s_agent"}}],
    }


def failure_messages(results):
    return " ".join(str(r.get("msg", "")) for hosts in results.values() for r in hosts.values() if r.get("failed"))


def test_k3s_agent_that_cannot_reach_the_server_fails_naming_host_and_port(address, hosts):
    token_path = f"{data_dir(hosts['sonic-1'])}/server/agent-token"
    results, stats = run_play([join_elsewhere(6553, token_path), agent_play(k3s_agent_server_wait_timeout=3)])
    message = failure_messages(results)
    assert f"nano-1 cannot reach the K3s server sonic-1 at {address['sonic-1']}:6553 (TCP) within 3 s" in message
    assert stats["nano-1"]["changed"] == 0


def test_k3s_agent_token_missing_on_the_server_is_reported():
    results, stats = run_play([join_elsewhere(6443, "/nonexistent/agent-token"), agent_play()])
    message = failure_messages(results)
    assert "nano-1: the K3s server sonic-1 has no agent token at /nonexistent/agent-token" in message, message
    assert stats["nano-1"]["changed"] == 0


# --- state from before this run: a reflashed Jetson, a switch whose /etc an image upgrade replaced ---


def node_heartbeat_after_start(host, service, node):
    """The node's Ready heartbeat is from after the service's current start (whole seconds)."""
    started = host.check_output(f"TZ=UTC systemctl show {service} --property=ExecMainStartTimestamp --value")
    since = datetime.datetime.strptime(started.split(" ", 1)[1], "%Y-%m-%d %H:%M:%S UTC")
    ready_condition = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    beat = datetime.datetime.strptime(ready_condition["lastHeartbeatTime"], "%Y-%m-%dT%H:%M:%SZ")
    return ready_condition["status"] == "True" and beat >= since


def reflash(host):
    """What reflashing a Jetson leaves on it: no K3s at all. Its agent dies without a clean stop (so
    the server's node keeps its last Ready status), and the server keeps the node and its password."""
    host.check_output("systemctl kill --signal=KILL k3s-agent && systemctl stop k3s-agent")
    host.check_output(
        "rm -rf /etc/rancher /var/lib/rancher /usr/local/bin/k3s /opt/k3s "
        "/etc/systemd/system/k3s-agent.service /etc/systemd/system/k3s-agent.service.env && systemctl daemon-reload"
    )


@K3S_LAB
@pytest.mark.destructive
def test_k3s_reflashed_jetson_replaces_its_old_node_or_is_refused_with_the_remedy(hosts):
    old = nodes()["nano-2"]
    reflash(hosts["nano-2"])
    assert ready(nodes()["nano-2"]), "the reflash must leave the old node Ready on the server"
    kubectl("get", "secret", "-n", "kube-system", "nano-2.node-password.k3s")
    rc, output = k3s_stage({"k3s_agent_stale_node": "refuse"})
    assert rc != 0, output[-4000:]
    message = flat(output)
    assert "nano-2 has no K3s node password (/etc/rancher/node/password), but the server sonic-1 still holds" in message
    assert "node/nano-2" in message and "reset.yml --limit nano-2" in message, output[-4000:]
    assert nodes()["nano-2"]["metadata"]["uid"] == old["metadata"]["uid"]
    rc, output = k3s_stage()
    assert rc == 0, output[-6000:]
    new = nodes()["nano-2"]
    assert new["metadata"]["uid"] != old["metadata"]["uid"], "the old node was kept"
    assert node_heartbeat_after_start(hosts["nano-2"], "k3s-agent", new), new["status"]["conditions"]
    copy = f"{data_dir(hosts['nano-2'])}/edgefaas/node-password"
    assert hosts["nano-2"].file(copy).mode == 0o600
    assert hosts["nano-2"].file(copy).content_string == hosts["nano-2"].file(NODE_PASSWORD).content_string
    assert_converged(*k3s_stage())


@pytest.fixture
def foreign_node_password(hosts):
    """nano-1 with a node password the server does not know (its copy beside K3s's data too)."""
    nano = hosts["nano-1"]
    nano.check_output(f"cp -p {NODE_PASSWORD} /root/node-password.saved")
    copy = f"{data_dir(nano)}/edgefaas/node-password"
    for path in (NODE_PASSWORD, copy):
        nano.check_output(f"test ! -e {path} || echo 0123456789abcdef0123456789abcdef > {path}")
    nano.check_output("systemctl restart --no-block k3s-agent")
    yield
    nano.check_output(f"cp -p /root/node-password.saved {NODE_PASSWORD} && cp -p {NODE_PASSWORD} {copy}")
    nano.check_output("rm -f /root/node-password.saved && systemctl restart k3s-agent")
    rc, output = k3s_stage()
    assert rc == 0, output[-4000:]


@K3S_LAB
@pytest.mark.destructive
@pytest.mark.usefixtures("foreign_node_password")
def test_k3s_refused_node_password_fails_fast_quoting_k3s_and_naming_the_remedy():
    rc, output = k3s_stage()
    assert rc != 0, output[-4000:]
    message = flat(output)
    assert 'nano-1: the K3s server refuses node nano-1: "Node password rejected' in message, output[-4000:]
    assert "k3s kubectl -n kube-system delete secret nano-1.node-password.k3s" in message, output[-4000:]
    # at once, not after the wait for the unit (k3s_service_start_timeout, 180 s) ran out
    assert "not active, 180 s after it was started" not in message


@K3S_LAB
@pytest.mark.destructive
def test_k3s_switches_keep_their_cluster_when_an_image_upgrade_replaces_etc(hosts):
    sonic, agent = hosts["sonic-1"], hosts["sonic-2"]
    datastore_token = sonic.check_output(f"cat {data_dir(sonic)}/server/token")
    agent_tokens = {n: hosts[n].check_output("cat /etc/rancher/k3s/agent-token") for n in NANOS}
    agent_node = nodes()["sonic-2"]["metadata"]["uid"]
    # A new SONiC image on both switches: /etc (K3s's config, tokens of old, node password, units) and
    # /usr are the image's; the data directory on /host stays.
    for host, service in ((sonic, "k3s"), (agent, "k3s-agent")):
        host.check_output(
            f"systemctl stop {service} && rm -rf /etc/rancher /usr/local/bin/k3s /opt/k3s "
            f"/etc/systemd/system/{service}.service /etc/systemd/system/{service}.service.env && systemctl daemon-reload"
        )
    rc, output = k3s_stage()
    assert rc == 0, output[-6000:]
    assert "bootstrap data already found" not in sonic.check_output("journalctl -u k3s --no-pager -o cat -n 50")
    assert sonic.check_output(f"cat {data_dir(sonic)}/server/token") == datastore_token
    assert {n: hosts[n].check_output("cat /etc/rancher/k3s/agent-token") for n in NANOS} == agent_tokens
    for name, node in nodes().items():
        assert ready(node), name
    assert node_heartbeat_after_start(sonic, "k3s", nodes()["sonic-1"])
    # the agent switch is the same node: its password came back from /host, no stale node was replaced
    assert nodes()["sonic-2"]["metadata"]["uid"] == agent_node
    assert node_heartbeat_after_start(agent, "k3s-agent", nodes()["sonic-2"])
    assert_converged(*k3s_stage())


# --- reset and upgrade ----------------------------------------------------------------------------

AGENT_PATHS = ["/etc/rancher/k3s", "/etc/rancher/node", "/var/lib/rancher/k3s", "/usr/local/bin/k3s", "/opt/k3s"]


@pytest.fixture
def parsec_marker(hosts):
    """Files where Parsec keeps its configuration and keys: reset must leave them alone."""
    paths = ["/etc/parsec/edgefaas-reset-marker", "/var/lib/parsec/edgefaas-reset-marker"]
    for path in paths:
        hosts["nano-2"].check_output(f"mkdir -p {os.path.dirname(path)} && echo keep > {path}")
    yield paths
    hosts["nano-2"].check_output("rm -f " + " ".join(paths))


def test_k3s_reset_needs_confirmation():
    rc, output = run_stage("edgefaas.platform.reset")
    assert_refused_without_change(rc, output, "Run it again with -e k3s_reset_confirm=true")
    assert len(nodes()) == 4


@K3S_LAB
@pytest.mark.destructive
def test_k3s_reset_of_one_agent_removes_only_it_and_it_can_join_again(hosts, parsec_marker):
    rc, output = run_stage("edgefaas.platform.reset", {"k3s_reset_confirm": True}, limit="nano-2")
    assert rc == 0, output[-4000:]
    assert sorted(nodes()) == ["nano-1", "sonic-1", "sonic-2"]
    nano2 = hosts["nano-2"]
    assert not nano2.service("k3s-agent").is_running
    assert not nano2.file("/etc/systemd/system/k3s-agent.service").exists
    for path in AGENT_PATHS:
        assert not nano2.file(path).exists, path
    for path in parsec_marker:
        assert nano2.file(path).content_string == "keep\n"
    assert all(ready(node) for node in nodes().values())
    assert_converged(*run_stage("edgefaas.platform.reset", {"k3s_reset_confirm": True}, limit="nano-2"))
    rc, output = k3s_stage()
    assert rc == 0, output[-4000:]
    assert ready(nodes()["nano-2"]) and nodes()["nano-2"]["metadata"]["labels"]["edgefaas.io/role"] == "agent"


@K3S_LAB
@pytest.mark.destructive
def test_k3s_upgrade_moves_server_then_agents_one_at_a_time(hosts):
    rc, output = run_stage("edgefaas.platform.upgrade", {"k3s_version": NEXT_VERSION})
    assert rc == 0, output[-6000:]
    for name, node in nodes().items():
        assert node["status"]["nodeInfo"]["kubeletVersion"] == NEXT_VERSION, name
        assert ready(node) and not node["spec"].get("unschedulable"), name
    for name, host in hosts.items():
        assert NEXT_VERSION in host.check_output("/usr/local/bin/k3s --version")
        # each release in a directory of its own: the one before stays for a rollback by link
        assert host.check_output("readlink /usr/local/bin/k3s") == "/opt/k3s/current/k3s", name
        assert host.check_output("readlink /opt/k3s/current").startswith(f"/opt/k3s/{NEXT_VERSION}-"), name
        kept = host.check_output("ls /opt/k3s").split()
        assert any(entry.startswith(f"{VERSION}-") for entry in kept), (name, kept)
    # one agent at a time: everything nano-1 changed came before anything nano-2 changed
    order = [
        line.split("[")[1].split()[0].rstrip("]") for line in output.splitlines() if line.startswith("changed: [nano-")
    ]
    assert order and max(i for i, h in enumerate(order) if h == "nano-1") < order.index("nano-2"), order
    assert_converged(*run_stage("edgefaas.platform.upgrade", {"k3s_version": NEXT_VERSION}))


@K3S_LAB
@pytest.mark.destructive
def test_k3s_upgrade_refuses_a_downgrade_before_any_node_changes(hosts):
    before = binary_sha(hosts)
    rc, output = run_stage("edgefaas.platform.upgrade", {"k3s_version": VERSION})
    assert_refused_without_change(
        rc, output, f"K3s {NEXT_VERSION} -> {VERSION} is a downgrade, which Kubernetes does not support"
    )
    assert "Nothing was changed" in flat(output)
    assert binary_sha(hosts) == before


@K3S_LAB
@pytest.mark.destructive
def test_k3s_upgrade_refuses_to_skip_a_minor_version_naming_the_one_between():
    # no release files exist for it: the refusal comes first
    rc, output = run_stage("edgefaas.platform.upgrade", {"k3s_version": "v1.39.0+k3s1"})
    assert_refused_without_change(
        rc, output, f"K3s {NEXT_VERSION} -> v1.39.0+k3s1 skips minor versions: upgrade to v1.38 first"
    )


@K3S_LAB
@pytest.mark.destructive
def test_k3s_reset_removes_the_cluster_and_a_second_reset_changes_nothing(hosts):
    data_dirs = {name: data_dir(host) for name, host in hosts.items()}  # /host/k3s on the switch
    rc, output = run_stage("edgefaas.platform.reset", {"k3s_reset_confirm": True, "k3s_version": NEXT_VERSION})
    assert rc == 0, output[-4000:]
    for name, host in hosts.items():
        service = "k3s" if name == "sonic-1" else "k3s-agent"
        assert not host.file(f"/etc/systemd/system/{service}.service").exists
        for path in [*AGENT_PATHS, data_dirs[name]]:
            assert not host.file(path).exists, (name, path)
    assert not KUBECONFIG.exists()
    assert_converged(*run_stage("edgefaas.platform.reset", {"k3s_reset_confirm": True}))
