# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Builds the services' wheel offline, with setuptools from the running Python (no download).

    python services/build_wheel.py --output-dir DIR    # prints the wheel's path

The build runs in a staging copy of services/ and plugins/module_utils/parsec/ (same relative
layout, which pyproject.toml's package-dir mapping relies on), so that it works from a checkout and
from a read-only installed collection and leaves no build/ or egg-info in the source tree. Earlier wheels of this
package in DIR are removed, so DIR holds exactly one. Needs setuptools >= 70.1 (bdist_wheel
built in) and pip on the building Python.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SERVICES = Path(__file__).resolve().parent
COLLECTION = SERVICES.parent
PARSEC_CLIENT = Path("plugins", "module_utils", "parsec")
SOURCES = ("pyproject.toml", "README.md", "src")


def collection_version(collection: Path) -> str:
    """The collection's version: galaxy.yml's in a checkout, MANIFEST.json's in a built collection."""
    manifest = collection / "MANIFEST.json"
    if manifest.is_file():
        return json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"]
    galaxy = (collection / "galaxy.yml").read_text(encoding="utf-8")
    match = re.search(r"^version:\s*['\"]?([0-9][^'\"\s]*)", galaxy, re.MULTILINE)
    if not match:
        raise SystemExit("build_wheel: no `version:` line in {}".format(collection / "galaxy.yml"))
    return match.group(1)


def stage(staging: Path) -> Path:
    """Copies what the wheel is built from into staging; returns the staged services/ folder."""
    services = staging / "services"
    services.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        source = SERVICES / name
        if source.is_dir():
            shutil.copytree(source, services / name, ignore=ignore)
        else:
            shutil.copy2(source, services / name)
    shutil.copytree(COLLECTION / PARSEC_CLIENT, staging / PARSEC_CLIENT, ignore=ignore)
    (services / "VERSION").write_text(collection_version(COLLECTION) + "\n", encoding="utf-8")
    return services


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob("edgefaas_services-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="edgefaas-services-") as staging:
        services = stage(Path(staging))
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        subprocess.run([*command, "--wheel-dir", str(output_dir), str(services)], check=True)
    wheels = sorted(output_dir.glob("edgefaas_services-*.whl"))
    if len(wheels) != 1:
        raise SystemExit("build_wheel: expected one wheel in {}, found {}".format(output_dir, wheels))
    return wheels[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, required=True, help="where the wheel is written")
    print(build(parser.parse_args().output_dir.resolve()))


if __name__ == "__main__":
    main()
