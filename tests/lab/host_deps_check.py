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


def container_name(release: str) -> str:
    return f"{CONTAINER}-{release}"


def remove_container(release: str) -> None:
    lab.podman("rm", "--force", "--ignore", "--time", "0", container_name(release))


def start_fresh_container(release: str, image: str) -> subprocess.Popen:
    """host-deps-in-container.sh in a new container of `image`; its output goes to this process's."""
    remove_container(release)  # a leftover of an interrupted run
    # Privileged: podman inside runs containers and sets up their networks (in a network namespace
    # of their own). The machine's network: apt reaches the mirror without podman's NAT.
    command = ("run", "--rm", "--name", container_name(release), "--privileged", "--network=host")
    script = ("bash", "/edgefaas-lab/host-deps-in-container.sh")
    return subprocess.Popen(["podman", *command, *container_mounts(), image, *script])


def report(release: str, status: int, elapsed: float) -> bool:
    if status != 0:
        print(
            f"host-deps-check: FAILED on a clean Debian {release} ({elapsed:.0f} s): a program or file that the lab "
            "or the tests need is not installed by tests/lab/host-deps.sh; add its package to tests/lab/host-deps.txt",
            file=sys.stderr,
        )
        return False
    print(f"host-deps-check: tests/lab/host-deps.txt is complete on a clean Debian {release} ({elapsed:.0f} s)")
    return True


def check_releases(releases: list[str]) -> bool:
    """The releases side by side (most of the time is apt waiting for the mirror); all are reported."""
    # The switch's image of each release: Debian as debootstrapped, without the Nano's Python changes.
    images = {release: lab.build_image(release, "sonic") for release in releases}
    started = time.monotonic()
    try:
        running = {release: start_fresh_container(release, images[release]) for release in releases}
        statuses = {release: process.wait() for release, process in running.items()}
    finally:
        for release in releases:
            remove_container(release)
    elapsed = time.monotonic() - started
    verdicts = [report(release, statuses[release], elapsed) for release in releases]
    return all(verdicts)


def main(releases: list[str]) -> int:
    try:
        lab.check_tools()
        passed = check_releases(releases or list(RELEASES))
    except lab.LabError as exc:
        print(f"host-deps-check: {exc}", file=sys.stderr)
        return 1
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
