"""The lab tool: image tags follow the recipe (release and device kind), each host is dressed as its
device, each switch's config_db has its own name, address and subnets, a switch mounts the K3s
double's control plane and its own persistent /host."""

import ipaddress
import json
import shlex
import subprocess

import lab
import pytest
import yaml

from ansible_collections.edgefaas.platform.plugins.module_utils.kernel_modules import KernelRoots, locate_modules

K3S_CIDRS = [ipaddress.IPv4Network("10.42.0.0/16"), ipaddress.IPv4Network("10.43.0.0/16")]


def test_image_tag_changes_with_the_recipe(monkeypatch):
    before = lab.image_tag("bookworm", "jetson")
    monkeypatch.setattr(lab, "MIRROR", "http://mirror.invalid/debian")
    assert lab.image_tag("bookworm", "jetson") != before
    assert lab.image_tag("trixie", "sonic") != lab.image_tag("bookworm", "sonic")
    assert lab.image_tag("bookworm", "sonic") != lab.image_tag("bookworm", "jetson")


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


def test_one_image_per_release_and_device_kind():
    assert lab.image_kinds() == [("bookworm", "jetson"), ("bookworm", "sonic"), ("trixie", "sonic")]


def test_each_image_is_built_with_its_device_kind(monkeypatch):
    built = []
    monkeypatch.setattr(lab, "build_image", lambda release, device: built.append((release, device)) or device)
    assert lab.build_images() == {kind: kind[1] for kind in lab.image_kinds()}
    assert built == lab.image_kinds()


def sonic_version(host):
    return yaml.safe_load(
        lab.device_files(host, "10.77.5.10", ipaddress.IPv4Network("10.77.5.0/24"))["/etc/sonic/sonic_version.yml"]
    )


def test_each_switch_names_a_sonic_release_of_its_debian():
    trixie, bookworm = sonic_version("sonic-1"), sonic_version("sonic-2")
    assert (trixie["debian_version"].split(".")[0], trixie["sonic_os_version"]) == ("13", 13)
    assert (bookworm["debian_version"].split(".")[0], bookworm["sonic_os_version"]) == ("12", 12)
    # SONiC's Debian cadence: 202311-202505 on bookworm, the releases after 202505 on trixie
    assert "202311" <= bookworm["release"] <= "202505" < trixie["release"]
    for version in (trixie, bookworm):
        assert version["build_version"].startswith(f"SONiC.{version['release']}.")
        assert {"kernel_version", "asic_type"} <= version.keys()


def test_the_dressing_follows_the_host_not_the_image():
    subnet = ipaddress.IPv4Network("10.77.5.0/24")
    assert set(lab.device_files("sonic-2", "10.77.5.11", subnet)) == {
        "/etc/sonic/sonic_version.yml",
        "/etc/sonic/config_db.json",
    }
    assert set(lab.device_files("nano-1", "10.77.5.21", subnet)) == {"/etc/nv_tegra_release"}
    assert lab.host_spec("sonic-2")[1] == lab.host_spec("nano-1")[1] == "bookworm"


def config_db(host):
    subnet = ipaddress.IPv4Network("10.77.5.0/24")
    address = str(subnet[lab.host_spec(host)[4]])
    return json.loads(lab.device_files(host, address, subnet)["/etc/sonic/config_db.json"])


def data_plane_subnets(config):
    return [
        ipaddress.IPv4Interface(key.split("|")[1]).network
        for table in lab.DATA_PLANE_TABLES
        for key in config[table]
        if "|" in key
    ]


def test_the_second_switch_has_its_own_name_address_and_subnets():
    first, second = config_db("sonic-1"), config_db("sonic-2")
    assert second["DEVICE_METADATA"]["localhost"]["hostname"] == "sonic-2"
    assert second["MGMT_INTERFACE"] == {"eth0|10.77.5.11/24": {"gwaddr": "10.77.5.1"}}
    assert first["MGMT_INTERFACE"] == {"eth0|10.77.5.10/24": {"gwaddr": "10.77.5.1"}}
    ours, theirs = data_plane_subnets(second), data_plane_subnets(first)
    assert len(ours) == len(theirs) == 3
    assert [(a, b) for a in ours for b in theirs + K3S_CIDRS if a.overlaps(b)] == []
    assert [(a, b) for a in theirs for b in K3S_CIDRS if a.overlaps(b)] == []


def test_the_first_switch_keeps_the_template_data_plane():
    template = json.loads((lab.LAB_DIR / "files" / "config_db.json").read_text())
    for table in lab.DATA_PLANE_TABLES:
        assert config_db("sonic-1")[table] == template[table]
    assert "Vlan1000|172.20.11.1/24" in config_db("sonic-2")["VLAN_INTERFACE"]
    assert "Vlan1000" in config_db("sonic-2")["VLAN_INTERFACE"]


def test_every_switch_has_its_own_persistent_host(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "K3S_DOUBLE_BIN", tmp_path)
    switches = [h[0] for h in lab.HOSTS if h[2] == "sonic"]
    assert switches == ["sonic-1", "sonic-2"]
    volumes = [lab.host_mounts("t", host, "sonic")[1] for host in switches]
    assert volumes == ["t-sonic-1-host:/host", "t-sonic-2-host:/host"]


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


def test_the_host_deps_check_runs_in_each_releases_plain_debian_image(monkeypatch):
    import host_deps_check

    built, started = [], []
    monkeypatch.setattr(lab, "build_image", lambda release, device: built.append((release, device)) or release)
    monkeypatch.setattr(host_deps_check, "remove_container", lambda release: None)

    class Passed:
        def wait(self):
            return 0

    monkeypatch.setattr(host_deps_check, "start_fresh_container", lambda r, image: started.append(image) or Passed())
    assert host_deps_check.check_releases(["bookworm", "trixie"])
    assert built == [("bookworm", "sonic"), ("trixie", "sonic")]
    assert started == ["bookworm", "trixie"]
