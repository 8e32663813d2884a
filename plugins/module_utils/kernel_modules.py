# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Where each kernel module a host needs comes from: loaded, built in or loadable.

Standard library only, Python 3.8+. The sources, in the order they are asked:

- ``/proc/modules``: one loaded module per line, its name first (proc(5)).
- ``/sys/module/<name>``: a loaded module, or a built-in one that has parameters or a version
  (the kernel's sysfs-module ABI document).
- ``/lib/modules/<release>/modules.builtin``: the modules built into the kernel, one path a line
  (``kernel/net/netfilter/xt_conntrack.ko``), written by the kernel build (kbuild) and read by kmod.
- ``/lib/modules/<release>/**/<name>.ko``, also compressed as ``.ko.xz``, ``.ko.gz`` or ``.ko.zst``
  (kmod loads all four): loadable modules.
- ``CONFIG_<SYMBOL>=y`` in ``/proc/config.gz`` (CONFIG_IKCONFIG_PROC) or ``/boot/config-<release>``:
  built in, for kernels that ship no ``modules.builtin`` (some vendor kernels built without module support).

Module names treat ``-`` and ``_`` alike, as kmod does (``nf-nat`` is ``nf_nat``).
"""

from __future__ import annotations

import gzip
import os
from typing import Callable, Dict, List, NamedTuple, Optional, Set, Tuple

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")
PROC_CONFIG = "config.gz"


class KernelRoots(NamedTuple):
    """The directories read; tests point them at temporary trees."""

    proc: str = "/proc"
    sys: str = "/sys"
    modules: str = "/lib/modules"
    boot: str = "/boot"


def normalize(name: str) -> str:
    """A module name as kmod compares it: ``-`` and ``_`` are the same."""
    return name.replace("-", "_")


def module_name(file_name: str) -> Optional[str]:
    """``xt_multiport`` for ``xt_multiport.ko`` (or ``.ko.xz``/``.ko.gz``/``.ko.zst``); None for other files."""
    base = os.path.basename(file_name.strip())
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return normalize(base[: -len(suffix)])
    return None


def read_lines(path: str, opener: Callable = open) -> List[str]:
    """The lines of a text file (gzip when opener is gzip.open); [] when it cannot be read."""
    try:
        with opener(path, "rt") as handle:
            return handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError):
        return []


def loaded_modules(roots: KernelRoots) -> Set[str]:
    """Names in /proc/modules."""
    lines = read_lines(os.path.join(roots.proc, "modules"))
    return {normalize(line.split()[0]) for line in lines if line.strip()}


def builtin_modules(release_dir: str) -> Set[str]:
    """Names listed in modules.builtin of a kernel's module directory."""
    lines = read_lines(os.path.join(release_dir, "modules.builtin"))
    return {name for name in map(module_name, lines) if name}


def module_files(release_dir: str) -> Dict[str, str]:
    """Module name -> path of its file under a kernel's module directory (the first found, sorted walk).

    Symbolic links to directories (``build``, ``source`` point at kernel sources) are not followed.
    """
    found: Dict[str, str] = {}
    for directory, subdirs, file_names in os.walk(release_dir):
        subdirs.sort()
        for file_name in sorted(file_names):
            name = module_name(file_name)
            if name and name not in found:
                found[name] = os.path.join(directory, file_name)
    return found


def kernel_config(roots: KernelRoots, release: str) -> Tuple[str, Dict[str, str]]:
    """(path read, {CONFIG_SYMBOL: value}) of the running kernel's configuration; ("", {}) when none is readable."""
    candidates = (
        (os.path.join(roots.proc, PROC_CONFIG), gzip.open),
        (os.path.join(roots.boot, "config-" + release), open),
    )
    for path, opener in candidates:
        lines = read_lines(path, opener)
        if lines:
            settings = dict(line.split("=", 1) for line in lines if line.startswith("CONFIG_") and "=" in line)
            return path, settings
    return "", {}


class ModuleSources:
    """The kernel's module sources, each read once and only when a module is not found in an earlier one."""

    def __init__(self, release: str, roots: KernelRoots):
        self.release = release
        self.roots = roots
        self.release_dir = os.path.join(roots.modules, release)
        self._loaded: Optional[Set[str]] = None
        self._builtin: Optional[Set[str]] = None
        self._files: Optional[Dict[str, str]] = None
        self._config: Optional[Tuple[str, Dict[str, str]]] = None

    @property
    def loaded(self) -> Set[str]:
        if self._loaded is None:
            self._loaded = loaded_modules(self.roots)
        return self._loaded

    @property
    def builtin(self) -> Set[str]:
        if self._builtin is None:
            self._builtin = builtin_modules(self.release_dir)
        return self._builtin

    @property
    def files(self) -> Dict[str, str]:
        if self._files is None:
            self._files = module_files(self.release_dir)
        return self._files

    @property
    def config(self) -> Tuple[str, Dict[str, str]]:
        if self._config is None:
            self._config = kernel_config(self.roots, self.release)
        return self._config

    def locate(self, name: str, symbol: str = "") -> str:
        """Where the module is, in words (``loaded (/proc/modules)``, ...); "" when it is nowhere."""
        key = normalize(name)
        if key in self.loaded:
            return "loaded (/proc/modules)"
        if os.path.isdir(os.path.join(self.roots.sys, "module", key)):
            return "loaded or built in (/sys/module/" + key + ")"
        if key in self.builtin:
            return "built in (modules.builtin)"
        if key in self.files:
            return "loadable (" + self.files[key] + ")"
        config_path, settings = self.config
        if symbol and settings.get(symbol) == "y":
            return "built in (" + symbol + "=y in " + config_path + ")"
        return ""


def locate_modules(
    names: List[str],
    config_symbols: Optional[Dict[str, str]] = None,
    release: Optional[str] = None,
    roots: Optional[KernelRoots] = None,
) -> dict:
    """Where each requested module is on a kernel (the running one unless release is given).

    Returns {"kernel_release": str, "modules": {name: where or ""} for every requested name in
    order, "missing": [names found nowhere], "kernel_config": path of the config read or ""}.
    """
    symbols = config_symbols or {}
    sources = ModuleSources(release or os.uname().release, roots or KernelRoots())
    modules = {name: sources.locate(name, symbols.get(name, "")) for name in names}
    return {
        "kernel_release": sources.release,
        "modules": modules,
        "missing": [name for name, where in modules.items() if not where],
        "kernel_config": sources.config[0],
    }
