"""The built collection on a controller that has ansible-core and the declared collections only.

The README supports a controller with ansible-core alone (no `ansible` package): there the
tarball's playbooks parse only if galaxy.yml declares every collection they use. This check
makes such a controller and runs every playbook's --syntax-check and --list-tasks against the
example inventory (neither connects to its hosts):

1. a virtualenv with ansible-core alone, the version of the dev venv's, cached by version in
   ~/.cache/edgefaas/controller-venv (outside the repository);
2. a temporary collections path with only the collections galaxy.yml declares, copied from the
   dev venv's `ansible` package (Galaxy is not reachable), each checked against its range;
3. the tarball installed there by ansible-galaxy --offline, which resolves its dependencies
   against that path and fails when one is missing or out of range.

Usage: check_tarball.py <edgefaas-platform-X.Y.Z.tar.gz>; exits non-zero with the failing command's
output. Run by `make build`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgefaas" / "controller-venv"
# Where the dev venv's `ansible` package keeps its collections.
DEV_COLLECTIONS = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


class CheckError(Exception):
    """A step failed; the message says which and quotes its output."""


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise CheckError(f"`{' '.join(command)}` failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def core_only_venv() -> Path:
    """A venv with ansible-core alone, the dev venv's version; made once per version and Python."""
    version = metadata.version("ansible-core")
    venv = CACHE / f"ansible-core-{version}-py{sys.version_info[0]}.{sys.version_info[1]}"
    stamp = venv / ".complete"
    if not stamp.exists():
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "-q", f"ansible-core=={version}"])
        stamp.touch()
    extra = [
        d.metadata["Name"]
        for d in metadata.distributions(path=[str(p) for p in venv.glob("lib/python*/site-packages")])
    ]
    if "ansible" in extra or any(venv.glob("lib/python*/site-packages/ansible_collections")):
        raise CheckError(f"{venv} has collections besides ansible-core: remove it, it is a cache")
    return venv


def declared_dependencies() -> dict[str, str]:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"] or {}


def copy_declared(collections: Path) -> list[str]:
    """Copies each declared collection from the dev venv into collections; returns 'ns.name version' lines."""
    found = []
    for fqcn, requirement in declared_dependencies().items():
        namespace, name = fqcn.split(".")
        source = DEV_COLLECTIONS / "ansible_collections" / namespace / name
        manifest = source / "MANIFEST.json"
        if not manifest.exists():
            raise CheckError(f"{fqcn} (declared in galaxy.yml) is not in the dev venv's ansible package ({source})")
        version = json.loads(manifest.read_text())["collection_info"]["version"]
        if not meets_requirements(version, requirement):
            raise CheckError(f"{fqcn} {version} from the dev venv does not meet galaxy.yml's range {requirement}")
        target = collections / "ansible_collections" / namespace
        target.mkdir(parents=True, exist_ok=True)
        run(["cp", "-a", str(source), str(target / name)])
        found.append(f"{fqcn} {version} (declared {requirement})")
    return found


def check(tarball: Path) -> None:
    venv = core_only_venv()
    with tempfile.TemporaryDirectory(prefix="edgefaas-controller-") as tmp:
        tmp_path = Path(tmp)
        collections = tmp_path / "collections"
        (tmp_path / "ansible.cfg").write_text("[defaults]\n")  # no setting of this checkout's ansible.cfg
        env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        }
        for line in copy_declared(collections):
            print(f"controller: {line}")
        run(
            ["ansible-galaxy", "collection", "install", "--offline", "-p", str(collections), str(tarball)],
            env,
            tmp_path,
        )
        installed = collections / "ansible_collections" / "edgefaas" / "platform"
        inventory = installed / "inventories" / "example"
        for playbook in sorted((installed / "playbooks").glob("*.yml")):
            name = f"edgefaas.platform.{playbook.stem}"
            for mode in ("--syntax-check", "--list-tasks"):
                run(["ansible-playbook", "-i", str(inventory), name, mode], env, tmp_path)
            print(f"controller: {name}: --syntax-check and --list-tasks pass with ansible-core alone")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path)
    try:
        check(parser.parse_args().tarball.resolve())
    except CheckError as error:
        print(f"check_tarball: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
