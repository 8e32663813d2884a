# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Debian packages through the apt-get and dpkg-query commands, without python-apt.

Standard library only, Python 3.8+, so it works with any interpreter Ansible runs on (a Jetson
Nano's bootstrapped python3.8 has no apt bindings: Ubuntu builds python3-apt for its system
Python only). The facts it relies on:

- ``dpkg-query -W -f='${Status}\\t${Version}\\n' NAME`` prints ``install ok installed`` for an
  installed package and exits 1 ("no packages found matching") for a name dpkg has never seen,
  such as a virtual package (dpkg-query(1)).
- ``apt-get -s install`` prints one ``Inst NAME [OLD] (NEW ARCHIVE [ARCH])`` line for each package
  it would unpack (apt-get(8): simulation); it needs no root and takes no lock.
- ``apt-get install --no-upgrade`` leaves an installed package on the command line at its version.
- ``apt-get update`` refreshes ``/var/lib/apt/lists``; Ubuntu also touches
  ``/var/lib/apt/periodic/update-success-stamp`` after every successful refresh
  (APT::Update::Post-Invoke-Success), the stamp ansible's own apt module reads.
- ``DPkg::Lock::Timeout`` (apt 1.9.11 and later; older apt ignores it) waits for the dpkg lock
  that unattended-upgrades may hold instead of failing at once.
"""

from __future__ import annotations

import os
import re
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

# Debian Policy 5.6.1 (lower case letters, digits, + - .; two characters or more), optionally :arch.
PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9][a-z0-9-]*)?$")
INST_LINE = re.compile(r"^Inst (?P<name>\S+) (?:\[(?P<old>[^\]]+)\] )?\((?P<version>\S+)")
INSTALLED = "install ok installed"
# Untranslated output to parse, and no debconf questions.
APT_ENVIRONMENT = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C", "DEBIAN_FRONTEND": "noninteractive"}
# Keep a changed configuration file and take the package's default for any other question,
# as ansible's apt module does.
DPKG_OPTIONS = ("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")

Runner = Callable[[List[str]], Tuple[int, str, str]]


class AptError(Exception):
    """apt-get or dpkg-query failed; the message quotes the command and its error output."""


class IndexPaths(NamedTuple):
    """Where the package index and its refresh stamp live; tests point them at temporary files."""

    lists: str = "/var/lib/apt/lists"
    stamp: str = "/var/lib/apt/periodic/update-success-stamp"


def invalid_names(names: List[str]) -> List[str]:
    """The names that are not Debian package names (so never reach apt-get's command line)."""
    return [name for name in names if not PACKAGE_NAME.match(name)]


def parse_status(stdout: str) -> str:
    """The installed version from dpkg-query's Status/Version lines; "" when no line says installed.

    A Multi-Arch package has one line per architecture: any installed one counts.
    """
    for line in stdout.splitlines():
        fields = line.split("\t", 1)
        if len(fields) == 2 and fields[0].strip() == INSTALLED:
            return fields[1].strip()
    return ""


def parse_simulation(stdout: str) -> List[Tuple[str, str]]:
    """(name, new version) of every package `apt-get -s install` would unpack, in its order."""
    plan = []
    for line in stdout.splitlines():
        match = INST_LINE.match(line)
        if match:
            plan.append((match.group("name"), match.group("version")))
    return plan


def index_time(paths: IndexPaths) -> float:
    """When the index was last refreshed (seconds since the epoch): the newest stamp; 0 when there is none."""
    times = [os.stat(path).st_mtime for path in paths if os.path.exists(path)]
    return max(times, default=0.0)


def index_is_stale(paths: IndexPaths, valid_time: int, now: Optional[float] = None) -> bool:
    """True when the index is older than valid_time seconds (always, for 0)."""
    if valid_time <= 0:
        return True
    return (time.time() if now is None else now) - index_time(paths) > valid_time


def error_text(stdout: str, stderr: str) -> str:
    """apt-get's own words: its E:/W: lines (or all of stderr, else the end of stdout)."""
    lines = [line for line in stderr.splitlines() if line.startswith(("E:", "W:"))] or stderr.strip().splitlines()
    return " ".join(lines or stdout.strip().splitlines()[-3:]).strip()


class Apt:
    """apt-get and dpkg-query through a command runner: run(argv) -> (rc, stdout, stderr)."""

    def __init__(self, run: Runner, lock_timeout: int = 120, install_recommends: Optional[bool] = None):
        self.run = run
        self.lock_options = ("-o", f"DPkg::Lock::Timeout={lock_timeout}")
        self.recommends: Tuple[str, ...] = ()
        if install_recommends is not None:
            self.recommends = ("--install-recommends",) if install_recommends else ("--no-install-recommends",)

    def installed_version(self, name: str) -> str:
        """The installed version of a package; "" when it is not installed (or only provided by another)."""
        rc, stdout, stderr = self.run(["dpkg-query", "-W", "-f=${Status}\\t${Version}\\n", name])
        if rc not in (0, 1):  # 1: dpkg has never seen this name
            raise AptError(f"`dpkg-query -W {name}` failed (exit {rc}): {error_text(stdout, stderr)}")
        return parse_status(stdout) if rc == 0 else ""

    def installed_versions(self, names: List[str]) -> Dict[str, str]:
        return {name: self.installed_version(name) for name in names}

    def refresh_index(self, paths: IndexPaths) -> None:
        """apt-get update; then the lists directory's time records this refresh (apt leaves it as is when nothing changed)."""
        rc, stdout, stderr = self.run(["apt-get", "update", "-q", *self.lock_options])
        if rc != 0:
            raise AptError(
                f"`apt-get update` failed (exit {rc}): {error_text(stdout, stderr)}. "
                "Check the sources in /etc/apt/sources.list* and that the host reaches them."
            )
        if os.path.isdir(paths.lists):
            os.utime(paths.lists)

    def install_command(self, names: List[str], simulate: bool) -> List[str]:
        command = ["apt-get", "install", "-y", "-q", "--no-upgrade", *self.recommends, *self.lock_options]
        command += ["-s"] if simulate else list(DPKG_OPTIONS)
        return [*command, "--", *names]

    def plan_install(self, names: List[str]) -> List[Tuple[str, str]]:
        """(name, version) of every package installing `names` would unpack, dependencies included."""
        rc, stdout, stderr = self.run(self.install_command(names, simulate=True))
        if rc != 0:
            raise AptError(
                f"apt-get cannot install {', '.join(names)}: {error_text(stdout, stderr)} (exit {rc}). "
                "Check the package names, and that the index is fresh (update_cache: true) and has them."
            )
        return parse_simulation(stdout)

    def install(self, names: List[str]) -> None:
        rc, stdout, stderr = self.run(self.install_command(names, simulate=False))
        if rc != 0:
            raise AptError(f"`apt-get install {' '.join(names)}` failed (exit {rc}): {error_text(stdout, stderr)}")


def describe(versions: Dict[str, str]) -> str:
    """The requested packages and their versions, one a line (the diff's text)."""
    return "".join(f"{name} {version or '(not installed)'}\n" for name, version in versions.items())
