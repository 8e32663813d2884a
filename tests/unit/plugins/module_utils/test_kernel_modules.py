"""kernel_modules: requested modules are found in temporary kernel trees laid out like real ones."""

import gzip
import os
from pathlib import Path

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils.kernel_modules import (
    KernelRoots,
    locate_modules,
    module_name,
)

RELEASE = "4.9.253-tegra"  # L4T R32.7's kernel


class KernelTree:
    """/proc, /sys, /lib/modules and /boot of one host, under a temporary directory."""

    def __init__(self, base: Path):
        self.roots = KernelRoots(*(str(base / part) for part in ("proc", "sys", "lib/modules", "boot")))
        for root in self.roots:
            Path(root).mkdir(parents=True)
        self.release_dir = Path(self.roots.modules) / RELEASE

    def ko(self, *relative_paths):
        for relative in relative_paths:
            path = self.release_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")

    def builtin(self, *lines):
        self.release_dir.mkdir(parents=True, exist_ok=True)
        (self.release_dir / "modules.builtin").write_text("".join(line + "\n" for line in lines))

    def loaded(self, *names):
        lines = (f"{name} 16384 0 - Live 0x0000000000000000\n" for name in names)
        (Path(self.roots.proc) / "modules").write_text("".join(lines))

    def sys_module(self, name):
        (Path(self.roots.sys) / "module" / name / "parameters").mkdir(parents=True)

    def proc_config(self, text):
        with gzip.open(Path(self.roots.proc) / "config.gz", "wt") as handle:
            handle.write(text)

    def boot_config(self, text, release=RELEASE):
        (Path(self.roots.boot) / f"config-{release}").write_text(text)

    def locate(self, names, symbols=None, release=RELEASE):
        return locate_modules(names, symbols, release, self.roots)


@pytest.fixture
def tree(tmp_path):
    return KernelTree(tmp_path)


def test_the_requested_modules_are_reported_not_the_files_of_the_last_directory_walked(tree):
    # The field fault: the old script's walk rebound the requested names to the file names of
    # each directory, so it answered about the last directory's files (overlay.ko here).
    tree.ko("kernel/net/netfilter/xt_multiport.ko", "kernel/net/netfilter/xt_comment.ko", "kernel/zz/overlay.ko")
    found = tree.locate(["xt_multiport", "edgefaas_absent"])
    assert list(found["modules"]) == ["xt_multiport", "edgefaas_absent"]
    assert found["missing"] == ["edgefaas_absent"]
    assert found["modules"]["xt_multiport"] == f"loadable ({tree.release_dir}/kernel/net/netfilter/xt_multiport.ko)"


def test_a_missing_module_is_missing_even_when_every_directory_has_modules(tree):
    tree.ko("kernel/net/netfilter/xt_conntrack.ko", "kernel/drivers/gpu/nvgpu/nvgpu.ko")
    found = tree.locate(["xt_multiport"])
    assert found["missing"] == ["xt_multiport"] and found["modules"] == {"xt_multiport": ""}


@pytest.mark.parametrize(
    "line",
    ["kernel/fs/overlayfs/overlay.ko", "overlay.ko", "kernel/fs/overlayfs/overlay.ko.xz"],
    ids=["with-path", "bare-name", "compressed-name"],
)
def test_modules_builtin_lines_name_built_in_modules(tree, line):
    tree.builtin("kernel/net/bridge/br_netfilter.ko", line, "")
    found = tree.locate(["overlay", "br_netfilter", "vxlan"])
    assert found["modules"]["overlay"] == found["modules"]["br_netfilter"] == "built in (modules.builtin)"
    assert found["missing"] == ["vxlan"]


@pytest.mark.parametrize("suffix", [".ko", ".ko.xz", ".ko.gz", ".ko.zst"])
def test_loadable_modules_may_be_compressed(tree, suffix):
    tree.ko(f"kernel/net/netfilter/xt_mark{suffix}")
    found = tree.locate(["xt_mark"])
    assert found["missing"] == []
    assert found["modules"]["xt_mark"].endswith(f"/kernel/net/netfilter/xt_mark{suffix})")


@pytest.mark.parametrize("file_name", ["xt_mark.ko.sig", "xt_mark.kox", "xt_mark.ko.bz2", ".ko", "xt_mark"])
def test_other_files_are_not_modules(tree, file_name):
    tree.ko(f"kernel/net/netfilter/{file_name}")
    assert tree.locate(["xt_mark"])["missing"] == ["xt_mark"]


def test_loaded_modules_come_from_proc_modules_with_dashes_and_underscores_alike(tree):
    tree.loaded("nf_nat", "ip-tables")
    found = tree.locate(["nf-nat", "ip_tables", "vxlan"])
    assert found["modules"] == {"nf-nat": "loaded (/proc/modules)", "ip_tables": "loaded (/proc/modules)", "vxlan": ""}


def test_sys_module_counts_as_loaded_or_built_in(tree):
    tree.sys_module("br_netfilter")
    found = tree.locate(["br_netfilter"])
    assert found["modules"]["br_netfilter"] == "loaded or built in (/sys/module/br_netfilter)"


def test_loaded_wins_over_the_tree(tree):
    tree.loaded("vxlan")
    tree.ko("kernel/drivers/net/vxlan.ko")
    assert tree.locate(["vxlan"])["modules"]["vxlan"] == "loaded (/proc/modules)"


def test_kernel_config_y_counts_as_built_in_and_m_does_not(tree):
    tree.proc_config("# comment\nCONFIG_NETFILTER_XT_MATCH_MULTIPORT=y\nCONFIG_VXLAN=m\n")
    symbols = {"xt_multiport": "CONFIG_NETFILTER_XT_MATCH_MULTIPORT", "vxlan": "CONFIG_VXLAN"}
    found = tree.locate(["xt_multiport", "vxlan"], symbols)
    config = f"{tree.roots.proc}/config.gz"
    assert found["modules"]["xt_multiport"] == f"built in (CONFIG_NETFILTER_XT_MATCH_MULTIPORT=y in {config})"
    assert found["missing"] == ["vxlan"]
    assert found["kernel_config"] == config


def test_boot_config_of_the_release_is_read_when_proc_has_none(tree):
    tree.boot_config("CONFIG_OVERLAY_FS=y\n")
    tree.boot_config("CONFIG_VXLAN=y\n", release="5.15.0-other")
    found = tree.locate(["overlay", "vxlan"], {"overlay": "CONFIG_OVERLAY_FS", "vxlan": "CONFIG_VXLAN"})
    assert found["missing"] == ["vxlan"]
    assert found["kernel_config"] == f"{tree.roots.boot}/config-{RELEASE}"


def test_proc_config_wins_over_boot_config(tree):
    tree.proc_config("CONFIG_OVERLAY_FS=m\n")
    tree.boot_config("CONFIG_OVERLAY_FS=y\n")
    assert tree.locate(["overlay"], {"overlay": "CONFIG_OVERLAY_FS"})["missing"] == ["overlay"]


def test_another_kernels_tree_does_not_count(tree):
    other = Path(tree.roots.modules) / "5.15.0-other" / "kernel/net/netfilter"
    other.mkdir(parents=True)
    (other / "xt_multiport.ko").write_bytes(b"")
    tree.builtin()
    assert tree.locate(["xt_multiport"])["missing"] == ["xt_multiport"]


def test_links_to_kernel_sources_are_not_walked(tree, tmp_path):
    sources = tmp_path / "usr/src/linux-headers" / "net/netfilter"
    sources.mkdir(parents=True)
    (sources / "xt_multiport.ko").write_bytes(b"")
    tree.builtin()
    os.symlink(tmp_path / "usr/src/linux-headers", tree.release_dir / "build")
    assert tree.locate(["xt_multiport"])["missing"] == ["xt_multiport"]


def test_a_host_without_any_tree_reports_every_module_missing(tree):
    found = tree.locate(["overlay", "vxlan"])
    assert found == {
        "kernel_release": RELEASE,
        "modules": {"overlay": "", "vxlan": ""},
        "missing": ["overlay", "vxlan"],
        "kernel_config": "",
    }


def test_the_running_kernel_is_the_default_release(tree):
    assert locate_modules(["overlay"], roots=tree.roots)["kernel_release"] == os.uname().release


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("xt_multiport.ko", "xt_multiport"),
        ("nf-nat.ko.zst", "nf_nat"),
        (" kernel/a/b.ko.gz\n", "b"),
        ("b.ko.sig", None),
    ],
)
def test_module_name(file_name, name):
    assert module_name(file_name) == name
