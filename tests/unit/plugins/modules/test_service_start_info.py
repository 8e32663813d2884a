"""service_start_info: systemctl's view of a service turned into a start time and the files changed since."""

import os
import time
from unittest import mock

import pytest

from ansible_collections.edgefaas.platform.plugins.modules import service_start_info


def test_parse_show_keeps_only_the_properties_asked_for():
    text = "MainPID=812\nExecMainStartTimestampMonotonic=5000000\nId=parsec.service\n"
    assert service_start_info.parse_show(text) == {"MainPID": "812", "ExecMainStartTimestampMonotonic": "5000000"}


def test_start_epoch_moves_a_monotonic_timestamp_onto_the_wall_clock():
    # started 5 s after boot; now is 65 s after boot and 1000 s after the epoch: it started at 940
    assert service_start_info.start_epoch(5_000_000, 1000.0, 65.0) == pytest.approx(940.0)


def test_modified_after_compares_the_link_itself_and_skips_missing_paths(tmp_path):
    target = tmp_path / "v2"
    target.mkdir()
    link = tmp_path / "current"
    link.symlink_to(target)
    os.utime(link, (2000, 2000), follow_symlinks=False)
    os.utime(target, (500, 500))
    paths = [str(link), str(target), str(tmp_path / "missing")]
    assert service_start_info.modified_after(paths, 1000.0) == [str(link)]
    assert service_start_info.modified_after(paths, 3000.0) == []
    assert service_start_info.modified_after(paths, None) == []


def systemctl(out, rc=0):
    return mock.patch.object(service_start_info.AnsibleModule, "run_command", return_value=(rc, out, "no such unit"))


@pytest.fixture(autouse=True)
def systemctl_path():
    with mock.patch.object(service_start_info.AnsibleModule, "get_bin_path", return_value="/bin/systemctl"):
        yield


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_service_restarted_after_the_change_has_nothing_changed_since(run_module, tmp_path, check_mode):
    changed = tmp_path / "current"
    changed.write_text("")
    os.utime(changed, (time.time() - 60, time.time() - 60))
    started_10s_ago = int((time.monotonic() - 10) * 1e6)
    with systemctl(f"MainPID=812\nExecMainStartTimestampMonotonic={started_10s_ago}\n"):
        result = run_module(service_start_info, {"name": "parsec", "paths": [str(changed)]}, check_mode=check_mode)
    assert result["changed"] is False and result["running"] and result["main_pid"] == 812
    assert result["started"] == pytest.approx(time.time() - 10, abs=1)
    assert result["modified_since_start"] == []


def test_a_service_started_before_the_change_lists_it(run_module, tmp_path):
    changed = tmp_path / "current"
    changed.write_text("")
    started_60s_ago = int((time.monotonic() - 60) * 1e6)
    with systemctl(f"MainPID=812\nExecMainStartTimestampMonotonic={started_60s_ago}\n"):
        result = run_module(service_start_info, {"name": "parsec", "paths": [str(changed)]})
    assert result["modified_since_start"] == [str(changed)]


def test_a_stopped_service_runs_nothing_earlier(run_module, tmp_path):
    (tmp_path / "current").write_text("")
    with systemctl("MainPID=0\nExecMainStartTimestampMonotonic=0\n"):
        result = run_module(service_start_info, {"name": "parsec", "paths": [str(tmp_path / "current")]})
    assert not result["running"] and result["started"] is None and result["modified_since_start"] == []


def test_systemctl_failure_and_missing_properties_are_named(run_module):
    with systemctl("", rc=1):
        assert "systemctl show parsec failed: no such unit" in run_module(service_start_info, {"name": "parsec"})["msg"]
    with systemctl("MainPID=3\n"):
        assert "too old for this module" in run_module(service_start_info, {"name": "parsec"})["msg"]
