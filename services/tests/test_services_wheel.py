"""The wheel that the tests import is the one the roles install: it holds the collection's Parsec
client unchanged (never a second copy in the repository) and nothing else of the collection."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import edgefaas_services
import yaml
from edgefaas_services import parsec

COLLECTION = Path(__file__).resolve().parents[2]
PARSEC_CLIENT = COLLECTION / "plugins" / "module_utils" / "parsec"


def wheel_path() -> Path:
    """The wheel edgefaas_services was imported from (zipimport: .../name.whl/edgefaas_services)."""
    path = Path(edgefaas_services.__file__).parents[1]
    assert path.suffix == ".whl", "edgefaas_services was not imported from a wheel but from {}".format(path)
    return path


def test_the_parsec_client_is_packaged_unchanged():
    sources = {path.name: path.read_bytes() for path in PARSEC_CLIENT.glob("*.py")}
    with zipfile.ZipFile(wheel_path()) as wheel:
        packaged = {
            Path(name).name: wheel.read(name)
            for name in wheel.namelist()
            if name.startswith("edgefaas_services/parsec/") and name.endswith(".py")
        }
    assert packaged == sources


def test_the_packaged_client_works_under_its_packaged_name():
    assert parsec.ParsecClient.__module__ == "edgefaas_services.parsec.client"
    assert parsec.ecdsa("sha256").name == "ecdsa"


def test_the_wheel_holds_only_the_package_and_its_metadata():
    with zipfile.ZipFile(wheel_path()) as wheel:
        top = {name.split("/")[0] for name in wheel.namelist()}
    assert top == {"edgefaas_services", "edgefaas_services-{}.dist-info".format(version("edgefaas-services"))}


def test_the_wheel_is_versioned_with_the_collection():
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text(encoding="utf-8"))
    assert version("edgefaas-services") == galaxy["version"]


def test_the_wheel_builds_from_the_collection_tarball(tmp_path):
    """The roles build the wheel from the installed collection: read-only, with MANIFEST.json and no
    galaxy.yml, where build_wheel.py must find the version and leave no build output behind."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ansible.cli.galaxy",
            "collection",
            "build",
            "--output-path",
            str(tmp_path),
            str(COLLECTION),
        ],
        check=True,
        capture_output=True,
    )
    installed = tmp_path / "ansible_collections" / "edgefaas" / "platform"
    installed.mkdir(parents=True)
    with tarfile.open(next(tmp_path.glob("edgefaas-platform-*.tar.gz"))) as tarball:
        tarball.extractall(installed, filter="data")
    assert not (installed / "services" / "tests").exists()
    before = sorted(path for path in installed.rglob("*"))
    for path in [installed, *before]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        completed = subprocess.run(
            [sys.executable, str(installed / "services" / "build_wheel.py"), "--output-dir", str(tmp_path / "wheel")],
            check=True,
            capture_output=True,
            text=True,
        )
        assert sorted(installed.rglob("*")) == before
    finally:
        for path in [installed, *before]:
            path.chmod(path.stat().st_mode | 0o200)
    with zipfile.ZipFile(completed.stdout.strip()) as wheel:
        assert "edgefaas_services/parsec/client.py" in wheel.namelist()
        assert "edgefaas_services/x509.py" in wheel.namelist()
