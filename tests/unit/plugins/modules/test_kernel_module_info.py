"""kernel_module_info: the module reports on a temporary kernel tree, read-only, in check mode too."""

from pathlib import Path

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils.kernel_modules import KernelRoots
from ansible_collections.edgefaas.platform.plugins.modules import kernel_module_info

RELEASE = "4.9.253-tegra"


@pytest.fixture
def roots(tmp_path, monkeypatch):
    roots = KernelRoots(*(str(tmp_path / part) for part in ("proc", "sys", "lib/modules", "boot")))
    netfilter = Path(roots.modules) / RELEASE / "kernel/net/netfilter"
    netfilter.mkdir(parents=True)
    (netfilter / "xt_multiport.ko").write_bytes(b"")
    (netfilter.parents[2] / "modules.builtin").write_text("kernel/fs/overlayfs/overlay.ko\n")
    Path(roots.proc).mkdir()
    (Path(roots.proc) / "modules").write_text("br_netfilter 24576 0 - Live 0x0\n")
    monkeypatch.setattr(kernel_module_info, "ROOTS", roots)
    return roots


@pytest.mark.parametrize("check_mode", [False, True])
def test_reports_each_requested_module_and_changes_nothing(run_module, roots, check_mode):
    names = ["br_netfilter", "overlay", "xt_multiport", "vxlan"]
    result = run_module(kernel_module_info, {"names": names, "kernel_release": RELEASE}, check_mode=check_mode)
    assert result["failed"] is False and result["changed"] is False
    assert result["kernel_release"] == RELEASE
    assert result["modules"] == {
        "br_netfilter": "loaded (/proc/modules)",
        "overlay": "built in (modules.builtin)",
        "xt_multiport": f"loadable ({roots.modules}/{RELEASE}/kernel/net/netfilter/xt_multiport.ko)",
        "vxlan": "",
    }
    assert result["missing"] == ["vxlan"]


def test_config_symbols_are_used(run_module, roots):
    Path(roots.boot).mkdir()
    (Path(roots.boot) / f"config-{RELEASE}").write_text("CONFIG_VXLAN=y\n")
    args = {"names": ["vxlan"], "config_symbols": {"vxlan": "CONFIG_VXLAN"}, "kernel_release": RELEASE}
    result = run_module(kernel_module_info, args)
    assert result["missing"] == [] and result["kernel_config"] == f"{roots.boot}/config-{RELEASE}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"names": ["overlay", " "]}, "names holds an empty module name"),
        ({"names": ["overlay"], "kernel_release": "../../etc"}, "kernel_release '../../etc' is not a kernel release"),
    ],
)
def test_bad_input_is_refused_with_the_remedy(run_module, roots, args, message):
    result = run_module(kernel_module_info, args)
    assert result["failed"] is True and message in result["msg"]
