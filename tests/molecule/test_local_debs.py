"""A fresh Nano in check mode, and local package sets (no apt mirror) for its Python and Triton's libraries.

The lab's nanos have no apt index, as a site without a mirror: only the files of a set can be
installed. The Python set is two packages built here (a python3.8 stand-in and what it depends on,
since bookworm packages no python3.8); Triton's set is the real Debian packages of numpy and the
node's libpython, downloaded once with `apt-get download` into ~/.cache/edgefaas (outside the
repository).
"""

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import failures, read_facts, run_play
from test_node_prep import run_python_bootstrap

pytestmark = [
    pytest.mark.own_lab(scenario="node_prep", reason="the jetson role alone on a nano, without K3s"),
    pytest.mark.destructive,
]

STAGED = "/var/cache/edgefaas/debs"
SHIM = "/opt/edgefaas-python38/bin/python3.8"  # a directory of its own: purging the package removes it
TRITON_CACHE = Path.home() / ".cache" / "edgefaas" / "debs-bookworm-triton-libs"
TRITON_PACKAGES = (
    *("python3-numpy", "python3-pkg-resources", "libblas3", "liblapack3", "libgfortran5", "libquadmath0"),
    "libpython3.11",
)


def write_sums(directory):
    lines = [f"{hashlib.sha256(deb.read_bytes()).hexdigest()}  {deb.name}\n" for deb in sorted(directory.glob("*.deb"))]
    (directory / "SHA256SUMS").write_text("".join(lines))


def build_deb(directory, name, depends="", link=None):
    """A tiny package (optionally shipping a symlink) built with dpkg-deb on the controller."""
    root = directory / "build" / name
    (root / "DEBIAN").mkdir(parents=True)
    control = f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: lab <lab@localhost>\n"
    control += (f"Depends: {depends}\n" if depends else "") + "Description: local package set test\n"
    (root / "DEBIAN" / "control").write_text(control)
    if link:
        path, target = link
        (root / path.lstrip("/")).parent.mkdir(parents=True)
        (root / path.lstrip("/")).symlink_to(target)
    out = directory / "set" / f"{name}_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(out)], check=True, capture_output=True)


@pytest.fixture
def python_set(tmp_path, nano2):
    """A set whose python3.8 stand-in (a link to the node's python3) depends on a second package of the set."""
    (tmp_path / "set").mkdir()
    build_deb(tmp_path, "edgefaas-python38", depends="edgefaas-python38-dep", link=(SHIM, "/usr/bin/python3"))
    build_deb(tmp_path, "edgefaas-python38-dep")
    write_sums(tmp_path / "set")
    yield tmp_path / "set"
    nano2.check_output(f"dpkg --purge edgefaas-python38 edgefaas-python38-dep >/dev/null; rm -rf {STAGED}")


def bootstrap_vars(debs_dir):
    return {
        "jetson_python_candidates": ["/nowhere/python3", SHIM],
        "jetson_python_debs_dir": str(debs_dir),
    }


def install_tasks(results):
    return [r for name, hosts in results.items() if "Install a Python" in name for r in hosts.values()]


def test_check_mode_on_a_fresh_nano_reports_the_python_install_and_ends_the_host_with_the_way_on(nano2):
    extra = {"jetson_python_candidates": ["/nowhere/python3"]}
    results, stats = run_python_bootstrap(extra, check=True)
    assert stats["nano-2"]["changed"] == 1  # the install it would make
    reports = [r for name, hosts in results.items() if "would make" in name for r in hosts.values()]
    assert reports and "the run would install one with: apt-get update -qq" in reports[0]["msg"], results
    message = next(iter(failures(results).values()))["msg"]
    assert "check mode goes no further on this host" in message, message
    assert "edgefaas.platform.jetson_python --limit nano-2 (without --check)" in message, message
    assert nano2.run("command -v python3.8").rc != 0  # nothing installed


def test_python_bootstrap_from_a_local_package_set(nano2, python_set):
    extra = bootstrap_vars(python_set)
    # check mode: staging and install reported, nothing on the node
    results, stats = run_python_bootstrap(extra, check=True)
    assert stats["nano-2"]["changed"] == 2, results  # the staging loop and the install
    assert not nano2.file(STAGED).exists
    # the run: staged, checked and installed from the files (the node has no index to download from)
    after = read_facts("ansible_python_interpreter")
    results, stats = run_python_bootstrap(extra, after)
    assert not failures(results), failures(results)
    assert install_tasks(results)[0]["changed"] is True
    assert results["read facts"]["nano-2"]["msg"]["ansible_python_interpreter"] == SHIM
    for name in ("edgefaas-python38", "edgefaas-python38-dep"):
        assert nano2.package(name).is_installed
    staged = nano2.check_output(f"ls {STAGED}/*/").split()
    assert sorted(staged) == ["SHA256SUMS", "edgefaas-python38-dep_1.0-1_all.deb", "edgefaas-python38_1.0-1_all.deb"]
    results, stats = run_python_bootstrap(extra)
    assert stats["nano-2"]["changed"] == 0 and not failures(results)


def test_a_changed_local_package_set_is_refused_before_the_node_changes(nano2, python_set):
    with (python_set / "edgefaas-python38-dep_1.0-1_all.deb").open("ab") as deb:
        deb.write(b"tampered")
    (python_set / "unlisted_1.0_all.deb").write_bytes(b"")
    message = next(iter(failures(run_python_bootstrap(bootstrap_vars(python_set))[0]).values()))["msg"]
    assert "holds unlisted_1.0_all.deb that SHA256SUMS does not list" in message, message
    (python_set / "unlisted_1.0_all.deb").unlink()
    message = next(iter(failures(run_python_bootstrap(bootstrap_vars(python_set))[0]).values()))["msg"]
    assert "has files whose sha256 differs from SHA256SUMS: edgefaas-python38-dep_1.0-1_all.deb" in message, message
    assert "Nothing was changed on the node" in message
    assert not nano2.file(STAGED).exists and not nano2.file(SHIM).exists


@pytest.fixture
def triton_set(tmp_path, nano2):
    """Debian's numpy and the node's libpython as a set; downloaded once into the cache."""
    version = nano2.check_output("dpkg-query -W -f '${Version}' libpython3.11-stdlib")
    wanted = [f"{name}={version}" if name == "libpython3.11" else name for name in TRITON_PACKAGES]
    TRITON_CACHE.mkdir(parents=True, exist_ok=True)
    missing = [w for w, n in zip(wanted, TRITON_PACKAGES) if not list(TRITON_CACHE.glob(f"{n}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=TRITON_CACHE, check=True, capture_output=True)
    (tmp_path / "set").mkdir()
    for name in TRITON_PACKAGES:
        (deb,) = TRITON_CACHE.glob(f"{name}_*.deb")
        (tmp_path / "set" / deb.name).write_bytes(deb.read_bytes())
    write_sums(tmp_path / "set")
    yield tmp_path / "set"
    nano2.check_output(f"dpkg --purge {' '.join(TRITON_PACKAGES)} >/dev/null; rm -rf {STAGED}")


def run_triton_libraries(debs_dir, check=False):
    include = {"name": "edgefaas.platform.triton", "tasks_from": "libraries"}
    play = {
        "hosts": "nano-2",
        "gather_facts": True,
        "gather_subset": ["min"],
        "tasks": [{"name": "libraries", "ansible.builtin.include_role": include}],
    }
    return run_play([play], check=check, extra_vars={"triton_debs_dir": str(debs_dir)})


def test_triton_libraries_from_a_local_package_set(nano2, triton_set):
    assert nano2.run("test -e /var/lib/apt/lists/lock && ls /var/lib/apt/lists | grep -q _Packages").rc != 0  # no index
    results, stats = run_triton_libraries(triton_set, check=True)
    assert not failures(results) and stats["nano-2"]["changed"] >= 1, results
    assert not nano2.package("python3-numpy").is_installed and not nano2.file(STAGED).exists
    results, stats = run_triton_libraries(triton_set)
    assert not failures(results), failures(results)
    assert stats["nano-2"]["changed"] == 2  # staged, installed
    for name in TRITON_PACKAGES:
        assert nano2.package(name).is_installed, name
    assert nano2.check_output("python3 -c " + shlex.quote("import numpy; print(numpy.ones(2).sum())")) == "2.0"
    for check in (False, True):
        results, stats = run_triton_libraries(triton_set, check=check)
        assert stats["nano-2"]["changed"] == 0 and not failures(results), results
