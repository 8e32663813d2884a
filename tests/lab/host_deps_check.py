"""Proves the set-up's package list (tests/lab/host-deps.txt) on a clean Debian 12 and 13.

`make host-deps-check` (part of `make test`): in a fresh container of each of the lab's own images,
reduced to a minimal Debian, tests/lab/host-deps.sh installs the list and resolves every program
and file of it; then podman, as installed there, starts a container on a network of its own, which
needs the whole network stack (netavark runs iptables). A package missing from the list fails here
instead of on a new user's machine. The container is removed, also when the check fails.

    host_deps_check.py [bookworm|trixie ...]   (as root; 0.5-2.5 minutes a release, mostly apt)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import lab

CONTAINER = "edgefaas-hostdeps-check"
RELEASES = ("bookworm", "trixie")  # the lab hosts the README supports: Debian 12 and 13
GO_ROOT = Path("/usr/local/go")  # the machine's Go toolchain, a prerequisite that no package provides


def container_mounts() -> tuple[str, ...]:
    """`podman run -v` arguments: this directory (read-only) and the machine's Go toolchain."""
    mounts = ("-v", f"{lab.LAB_DIR}:/edgefaas-lab:ro")
    if GO_ROOT.is_dir():
        mounts += ("-v", f"{GO_ROOT}:{GO_ROOT}:ro")
    return mounts


def remove_container() -> None:
    lab.podman("rm", "--force", "--ignore", "--time", "0", CONTAINER)


def run_in_fresh_container(image: str) -> int:
    """Exit status of host-deps-in-container.sh; its output goes to this process's output."""
    remove_container()  # a leftover of an interrupted run
    # Privileged: podman inside runs containers and sets up their networks (in a network namespace
    # of their own). The machine's network: apt reaches the mirror without podman's NAT.
    command = ("run", "--rm", "--name", CONTAINER, "--privileged", "--network=host", *container_mounts(), image)
    try:
        script = ("bash", "/edgefaas-lab/host-deps-in-container.sh")
        return subprocess.run(["podman", *command, *script], check=False).returncode
    finally:
        remove_container()


def check_release(release: str) -> bool:
    """host-deps.sh in a fresh minimal Debian `release` (bookworm, trixie); prints the verdict."""
    started = time.monotonic()
    status = run_in_fresh_container(lab.build_image(release))
    elapsed = time.monotonic() - started
    if status != 0:
        print(
            f"host-deps-check: FAILED on a clean Debian {release} ({elapsed:.0f} s): a program or file that the lab "
            "or the tests need is not installed by tests/lab/host-deps.sh; add its package to tests/lab/host-deps.txt",
            file=sys.stderr,
        )
        return False
    print(f"host-deps-check: tests/lab/host-deps.txt is complete on a clean Debian {release} ({elapsed:.0f} s)")
    return True


def main(releases: list[str]) -> int:
    try:
        lab.check_tools()
        # Every release is checked, also after a failure: the report names all that fail.
        passed = [check_release(release) for release in releases or RELEASES]
    except lab.LabError as exc:
        print(f"host-deps-check: {exc}", file=sys.stderr)
        return 1
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
