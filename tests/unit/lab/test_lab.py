"""The lab tool: image tags follow the recipe, SONiC's config_db matches the host's address, the switch
mounts the K3s double's control plane."""

import ipaddress
import json
import shlex
import subprocess

import lab
import pytest
import yaml

from ansible_collections.edgefaas.platform.plugins.module_utils.kernel_modules import KernelRoots, locate_modules


def test_image_tag_changes_with_the_recipe(monkeypatch):
    before = lab.image_tag("bookworm")
    monkeypatch.setattr(lab, "MIRROR", "http://mirror.invalid/debian")
    assert lab.image_tag("bookworm") != before
    assert lab.image_tag("trixie") != lab.image_tag("bookworm")


def test_config_db_names_the_host_and_its_management_address():
    subnet = ipaddress.IPv4Network("10.77.5.0/24")
    config = json.loads(lab.sonic_config_db("sonic-9", "10.77.5.10", subnet))
    assert config["DEVICE_METADATA"]["localhost"]["hostname"] == "sonic-9"
    assert config["MGMT_INTERFACE"] == {"eth0|10.77.5.10/24": {"gwaddr": "10.77.5.1"}}
    assert config["MGMT_VRF_CONFIG"]["vrf_global"]["mgmtVrfEnabled"] == "false"


def test_every_host_has_a_distinct_address_in_the_subnet():
    octets = [host[4] for host in lab.HOSTS]
    assert len(set(octets)) == len(octets)
    assert all(1 < o < 255 for o in octets)


def test_only_the_switch_gets_the_k3s_double_read_only_and_a_persistent_host(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "K3S_DOUBLE_BIN", tmp_path)
    assert lab.host_mounts("t", "sonic-1", "sonic") == (
        f"{tmp_path}:/usr/local/lib/k3s-double/bin:ro",
        "t-sonic-1-host:/host",
    )
    assert lab.host_mounts("t", "nano-1", "jetson") == ()
    assert {h[2] for h in lab.HOSTS} == {"sonic", "jetson"}


def test_a_missing_k3s_double_names_the_directory_and_the_remedy(tmp_path, monkeypatch):
    missing = tmp_path / "lab-artifacts" / "k3s-double" / "bin"
    monkeypatch.setattr(lab, "K3S_DOUBLE_BIN", missing)
    with pytest.raises(lab.LabError) as err:
        lab.host_mounts("t", "sonic-1", "sonic")
    assert str(missing) in str(err.value)
    assert "make images" in str(err.value)
    assert "tests/lab/stage-artifacts.sh" in str(err.value)
    assert lab.host_mounts("t", "nano-1", "jetson") == ()


def test_the_persistent_volume_is_created_once_with_the_labs_label(monkeypatch):
    calls = []
    existing = []
    monkeypatch.setattr(lab, "podman", lambda *args, **kwargs: calls.append(args) or "\n".join(existing))
    lab.ensure_volume("t", "t-sonic-1-host")
    assert calls[-1] == ("volume", "create", "--label", f"{lab.LABEL}=t", "t-sonic-1-host")
    calls.clear()
    existing.append("t-sonic-1-host")
    lab.ensure_volume("t", "t-sonic-1-host")
    assert [c[:2] for c in calls] == [("volume", "ls")]


def test_lab_up_checks_the_artifacts_before_creating_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "K3S_DOUBLE_BIN", tmp_path / "missing")

    def must_not_run(*args, **kwargs):
        raise AssertionError("lab up went on without the K3s double")

    monkeypatch.setattr(lab, "ensure_network", must_not_run)
    monkeypatch.setattr(lab, "build_images", must_not_run)
    with pytest.raises(lab.LabError):
        lab.lab_up("t", ipaddress.IPv4Network("10.77.9.0/24"))


def test_the_container_spec_covers_the_mounts():
    image, address = "localhost/edgefaas-lab-trixie:0123456789ab", "10.77.9.10"
    mount = "/cache/lab-artifacts/k3s-double/bin:/usr/local/lib/k3s-double/bin:ro"
    # no mounts: the spec of the containers created before mounts existed (nothing recreated)
    assert lab.container_spec(image, address) == lab.container_spec(image, address, ())
    assert lab.container_spec(image, address, (mount,)) != lab.container_spec(image, address)
    assert lab.container_spec(image, address, (mount,)) != lab.container_spec(image, address, (mount + "x",))


def fake_podman(monkeypatch, state: str, spec: str = ""):
    calls = []
    monkeypatch.setattr(lab, "container_state", lambda container: state)
    monkeypatch.setattr(lab, "container_label", lambda container, label: spec)
    monkeypatch.setattr(lab, "podman", lambda *args, **kwargs: calls.append(args) or "")
    return calls


def test_a_new_container_gets_its_mounts_and_spec(monkeypatch):
    mount = "/a:/usr/local/lib/k3s-double/bin:ro"
    calls = fake_podman(monkeypatch, state="")
    lab.ensure_container("t", "sonic-1", "img", "10.77.9.10", (mount,))
    (run,) = calls
    assert run[0] == "run"
    assert run[run.index("-v") + 1] == mount
    assert f"{lab.LABEL}.spec={lab.container_spec('img', '10.77.9.10', (mount,))}" in run
    calls = fake_podman(monkeypatch, state="")
    lab.ensure_container("t", "nano-1", "img", "10.77.9.21")
    assert "-v" not in calls[0]


def test_a_container_without_the_mount_is_recreated(monkeypatch):
    mount = "/a:/usr/local/lib/k3s-double/bin:ro"
    calls = fake_podman(monkeypatch, state="running", spec=lab.container_spec("img", "10.77.9.10"))
    lab.ensure_container("t", "sonic-1", "img", "10.77.9.10", (mount,))
    assert [c[0] for c in calls] == ["rm", "run"]
    calls = fake_podman(monkeypatch, state="running", spec=lab.container_spec("img", "10.77.9.10", (mount,)))
    lab.ensure_container("t", "sonic-1", "img", "10.77.9.10", (mount,))
    assert calls == []


def test_each_image_serves_one_kind_of_device():
    assert lab.image_device("bookworm") == "jetson"
    assert lab.image_device("trixie") == "sonic"


def test_the_nanos_module_tree_has_every_module_the_jetson_role_requires(tmp_path):
    script = lab.l4t_module_tree_script()
    assert script[0] == 'modules="/lib/modules/$(uname -r)"'
    release = "4.9.253-tegra"
    script[0] = f"modules={shlex.quote(str(tmp_path / 'lib/modules' / release))}"
    subprocess.run(["sh", "-eu"], input="\n".join(script), text=True, check=True)
    defaults = yaml.safe_load((lab.REPO / "roles/jetson/defaults/main.yml").read_text())
    roots = KernelRoots(*(str(tmp_path / part) for part in ("proc", "sys", "lib/modules", "boot")))
    required = [*defaults["jetson_required_kernel_modules"], "nvgpu", "tegra_profiler"]
    found = locate_modules(required, release=release, roots=roots)
    assert found["missing"] == []
    assert found["modules"]["tegra_profiler"] == "built in (modules.builtin)"
    assert found["modules"]["nvgpu"].startswith("loadable (")
