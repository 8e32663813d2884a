"""The lab hosts look like their devices, and preflight stops bad inventories before any change."""

import os
import re

import pytest
import testinfra

IDENTITY = {
    "sonic-1": ["/etc/sonic/sonic_version.yml", "/etc/sonic/config_db.json"],
    "sonic-2": ["/etc/sonic/sonic_version.yml", "/etc/sonic/config_db.json"],
    "nano-1": ["/etc/nv_tegra_release"],
    "nano-2": ["/etc/nv_tegra_release"],
}


def test_systemd_is_pid_1_and_running(host):
    assert host.process.get(pid=1).comm == "systemd"
    state = host.run("systemctl is-system-running").stdout.strip()
    assert state in ("running", "degraded"), state


def test_ssh_service_enabled(host):
    assert host.service("ssh").is_enabled
    assert host.service("ssh").is_running


def test_identity_files(host):
    for path in IDENTITY[host.backend.get_hostname()]:
        assert host.file(path).is_file, path


def test_sudo_reaches_root(host):
    with host.sudo():
        assert host.check_output("id -u") == "0"


def inventory(groups, hostvars):
    """An inventory as data: {group: [host, ...]} with the lab's connection variables."""
    return {
        "all": {
            "children": {
                "edge": {
                    "children": {group: {"hosts": {h: hostvars[h] for h in hosts}} for group, hosts in groups.items()}
                }
            }
        }
    }


def no_change(output):
    changed = [int(n) for n in re.findall(r"changed=(\d+)", output)]
    return bool(changed) and not any(changed)


# The K3s roles and the devices of the lab, as the lab inventory lays them out.
SITE = {
    "k3s_server": ["sonic-1"],
    "k3s_agents": ["sonic-2", "nano-1", "nano-2"],
    "sonic": ["sonic-1", "sonic-2"],
    "jetson": ["nano-1", "nano-2"],
}


@pytest.mark.parametrize(
    ("groups", "extra", "message"),
    [
        ({"jetson": ["nano-1"]}, None, "must name exactly one K3s server in group k3s_server; it names 0: none"),
        (
            {"sonic": ["sonic-1", "sonic-2"], "jetson": ["nano-1"]},
            None,
            "it names 2: sonic-1, sonic-2. With several SONiC switches, group k3s_server names the one",
        ),
        (dict(SITE, k3s_server=["sonic-1", "sonic-2"], k3s_agents=["nano-1"]), None, "it names 2: sonic-1, sonic-2"),
        ({"sonic": ["sonic-1"]}, None, "The inventory names no K3s agent"),
        (
            {"sonic": ["sonic-1"], "jetson": ["sonic-1", "nano-1"]},
            None,
            "sonic-1 in both device groups sonic and jetson",
        ),
        (
            dict(SITE, k3s_server=["nano-1"], k3s_agents=["sonic-1", "sonic-2", "nano-2"]),
            None,
            "nano-1 is a Jetson (group jetson) but named as the K3s server",
        ),
        (
            {"sonic": ["nano-1"], "jetson": ["nano-2"]},
            None,
            "nano-1 is a 'jetson' device but is in device group sonic. Put it into group jetson instead of sonic",
        ),
        (
            dict(SITE, sonic=["sonic-1"]),
            None,
            "sonic-2 is a 'sonic' device but is in no device group. Put it into group sonic",
        ),
    ],
    ids=[
        "no-server",
        "earlier-layout-two-switches",
        "two-servers",
        "no-agent",
        "host-in-both-device-groups",
        "jetson-as-server",
        "jetson-as-switch",
        "switch-without-device-group",
    ],
)
def test_preflight_refuses_bad_inventory(groups, extra, message, lab_hostvars, run_playbook):
    rc, output = run_playbook("edgefaas.platform.preflight", inventory(groups, lab_hostvars), extra)
    assert rc != 0, output
    assert message in output, output
    assert no_change(output), output


@pytest.fixture
def nano2_as_plain_debian():
    """nano-2 without its L4T marker is a plain Debian 12 host; the marker is put back afterwards."""
    nano = testinfra.get_host("ansible://nano-2", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"], sudo=True)
    nano.check_output("mv /etc/nv_tegra_release /root/nv_tegra_release.moved")
    yield
    nano.check_output("mv /root/nv_tegra_release.moved /etc/nv_tegra_release")


@pytest.mark.destructive
@pytest.mark.usefixtures("nano2_as_plain_debian")
def test_preflight_refuses_unsupported_os(lab_hostvars, run_playbook):
    rc, output = run_playbook(
        "edgefaas.platform.preflight", inventory(SITE, lab_hostvars), {"preflight_min_os_version": {"debian": "13"}}
    )
    assert rc != 0, output
    assert "nano-2 runs Debian GNU/Linux 12 (bookworm) (device type 'debian'), which is not supported" in output
    assert "debian >= 13" in output, output
    assert no_change(output), output


def test_preflight_refuses_missing_python(lab_hostvars, run_playbook):
    hostvars = dict(lab_hostvars, **{"sonic-1": dict(lab_hostvars["sonic-1"], ansible_python_interpreter="/nowhere")})
    rc, output = run_playbook(
        "edgefaas.platform.preflight", inventory({"sonic": ["sonic-1"], "jetson": ["nano-1"]}, hostvars)
    )
    assert rc != 0, output
    assert "sonic-1: no Python found" in output, output


def test_preflight_bootstraps_a_python_for_a_jetson_whose_interpreter_is_missing(lab_hostvars, run_playbook):
    # A Jetson's stock Python may be too old or absent: the stage's first play finds (or installs) one.
    hostvars = dict(lab_hostvars, **{"nano-1": dict(lab_hostvars["nano-1"], ansible_python_interpreter="/nowhere")})
    rc, output = run_playbook(
        "edgefaas.platform.preflight", inventory({"sonic": ["sonic-1"], "jetson": ["nano-1"]}, hostvars)
    )
    assert rc == 0, output
    assert no_change(output), output


def test_preflight_passes_and_prints_summary(lab_hostvars, run_playbook):
    rc, output = run_playbook("edgefaas.platform.preflight", inventory(SITE, lab_hostvars), check=True)
    assert rc == 0, output
    assert "sonic-1" in output and "sonic on Debian GNU/Linux 13" in output, output
    assert "sonic-2" in output and "sonic on Debian GNU/Linux 12" in output, output
    assert "L4T 32.7.1 (JetPack 4.6.1)" in output, output
    assert no_change(output), output
