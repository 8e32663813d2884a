"""K3s settings that follow the node and the site: the kubelet on cgroup v1, private registries, air-gap images.

Read-only tests of the site lab (molecule/default). The lab's hosts run cgroup v1 (hybrid), as L4T
R32 Nanos do, and the lab's inventory names a registry mirror (inventories/lab/group_vars/all/k3s.yml),
so both the kubelet argument and registries.yaml show on the converged lab. The playbook runs here
are check-mode runs that the role refuses or only warns in, so they change nothing.
"""

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO, lab_host
from test_k3s import HOSTS, assert_refused_without_change, flat, k3s_stage, nodes

FAIL_CGROUPV1_OFF = "fail-cgroupv1=false"
LAB_K3S_VARS = REPO / "inventories" / "lab" / "group_vars" / "all" / "k3s.yml"
REGISTRIES = "/etc/rancher/k3s/registries.yaml"
SERVICES = {"sonic-1": "k3s", "sonic-2": "k3s-agent", "nano-1": "k3s-agent", "nano-2": "k3s-agent"}
NO_IMAGES = "has no K3s images bundle"


@pytest.fixture(scope="module")
def hosts():
    return {name: lab_host(name) for name in HOSTS}


@pytest.fixture(scope="module")
def lab_registries():
    return yaml.safe_load(Path(LAB_K3S_VARS).read_text())["k3s_registries"]


def cgroup_v1(host):
    """cgroup v1 (legacy or hybrid) unless /sys/fs/cgroup is the unified cgroup2 file system."""
    return host.check_output("stat -fc %T /sys/fs/cgroup").strip() != "cgroup2fs"


def kubelet_args(host):
    config = yaml.safe_load(host.file("/etc/rancher/k3s/config.yaml").content_string)
    args = config.get("kubelet-arg") or []
    return [args] if isinstance(args, str) else args


def test_k3s_kubelet_on_cgroup_v1_gets_fail_cgroupv1_false_in_config_and_node_args(hosts):
    found = nodes()
    assert any(cgroup_v1(host) for host in hosts.values()), "the lab is expected to run cgroup v1 (hybrid)"
    for name, host in hosts.items():
        args = kubelet_args(host)
        # K3s records the arguments it runs with (config.yaml's as --flag value pairs) on its Node
        node_args = json.loads(found[name]["metadata"]["annotations"]["k3s.io/node-args"])
        pairs = list(zip(node_args, node_args[1:]))
        if cgroup_v1(host):
            assert args.count(FAIL_CGROUPV1_OFF) == 1, (name, args)
            assert pairs.count(("--kubelet-arg", FAIL_CGROUPV1_OFF)) == 1, (name, node_args)
        else:
            assert FAIL_CGROUPV1_OFF not in args, (name, args)
            assert ("--kubelet-arg", FAIL_CGROUPV1_OFF) not in pairs, (name, node_args)


def test_k3s_cgroup_v1_refused_with_the_remedy_when_told_to(hosts):
    assert cgroup_v1(hosts["sonic-1"])
    rc, output = k3s_stage({"k3s_cgroup_v1": "refuse"}, limit="sonic-1", check=True)
    assert_refused_without_change(
        rc, output, "sonic-1 runs cgroup v1", "k3s_cgroup_v1 is 'refuse'", "systemd.unified_cgroup_hierarchy=1"
    )


def test_k3s_registries_yaml_is_the_inventorys_private_and_in_use(hosts, lab_registries):
    assert lab_registries.get("mirrors"), "the lab's inventory is expected to name a registry mirror"
    for name, host in hosts.items():
        registries = host.file(REGISTRIES)
        assert registries.exists, name
        assert (registries.user, registries.group, registries.mode) == ("root", "root", 0o600), name
        assert yaml.safe_load(registries.content_string) == lab_registries, name
        # K3s reads registries.yaml at start only: the running K3s must have started after it was written
        started = host.check_output(f"systemctl show -p ExecMainStartTimestamp --value {SERVICES[name]}")
        started_at = int(host.check_output(f"date -d '{started}' +%s"))
        assert started_at >= int(host.check_output(f"stat -c %Y {REGISTRIES}")), name
        journal = host.check_output(f"journalctl -u {SERVICES[name]} --no-pager -o cat")
        assert f"Using private registry config file at {REGISTRIES}" in journal, name


def test_k3s_air_gap_without_images_or_mirror_is_refused_with_the_remedy():
    rc, output = k3s_stage({"k3s_registries": {}}, limit="sonic-1", check=True)
    assert_refused_without_change(rc, output, NO_IMAGES, "k3s_registries", "k3s_images_missing: warn")


def test_k3s_air_gap_without_images_or_mirror_warns_when_told_to(hosts):
    rc, output = k3s_stage({"k3s_registries": {}, "k3s_images_missing": "warn"}, limit="sonic-1", check=True)
    assert rc == 0, output[-4000:]
    # an Ansible warning (wrapped to the terminal's width), not task output
    assert "[WARNING]: sonic-1: the air-gap directory" in flat(output) and NO_IMAGES in flat(output), output[-4000:]
    # check mode: the file an empty k3s_registries removes is still there
    assert hosts["sonic-1"].file(REGISTRIES).exists


def test_k3s_registries_change_shows_in_check_mode_without_credentials(hosts, lab_registries):
    changed = json.loads(json.dumps(lab_registries))
    for config in changed["configs"].values():
        config["auth"]["password"] = "changed-registry-password"
    before = hosts["sonic-1"].check_output(f"sha256sum {REGISTRIES}")
    rc, output = k3s_stage({"k3s_registries": changed}, limit="sonic-1", check=True, diff=True)
    assert rc == 0, output[-4000:]
    task = output.split("Write K3s's private registry configuration", 1)[1].split("TASK [", 1)[0]
    assert "changed: [sonic-1]" in task, task
    passwords = [c["auth"]["password"] for c in [*lab_registries["configs"].values(), *changed["configs"].values()]]
    assert not any(password in output for password in passwords), "a registry password is in the output"
    assert hosts["sonic-1"].check_output(f"sha256sum {REGISTRIES}") == before
