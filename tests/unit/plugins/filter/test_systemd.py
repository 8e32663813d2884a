"""Values escaped for systemd unit files; checked against systemd-analyze where it is installed."""

import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.filter import systemd

HOSTILE = 'a "b" \\c 100% $HOME\tend'


@pytest.mark.parametrize(
    "value, word",
    [
        ("--http-port=8000", "--http-port=8000"),
        (8000, "8000"),
        ("/opt/triton 2/bin/tritonserver", '"/opt/triton 2/bin/tritonserver"'),
        ("100%", "100%%"),
        ("$HOME", "$$HOME"),
        (HOSTILE, '"a \\"b\\" \\\\c 100%% $$HOME\\tend"'),
        ("", '""'),
        ("a;b", '"a;b"'),
        ("bell\x07", '"bell\\x07"'),
    ],
)
def test_exec_arg(value, word):
    assert systemd.systemd_exec_arg(value) == word


def test_environment_is_quoted_sorted_and_keeps_dollars():
    assert systemd.systemd_environment({"B": HOSTILE, "A": "x\ny"}) == [
        '"A=x\\ny"',
        '"B=a \\"b\\" \\\\c 100%% $HOME\\tend"',
    ]


@pytest.mark.parametrize(
    "variables, message", [({"1X": "v"}, "'1X' is not valid"), ({"A B": "v"}, "'A B' is not valid")]
)
def test_environment_refuses_bad_names(variables, message):
    with pytest.raises(AnsibleFilterError, match=message):
        systemd.systemd_environment(variables)


def test_environment_needs_a_mapping():
    with pytest.raises(AnsibleFilterError, match="takes a mapping"):
        systemd.systemd_environment(["A=b"])


def test_path_escapes_specifiers_only():
    assert systemd.systemd_path('/var/lib/a b/"q"/50%') == '/var/lib/a b/"q"/50%%'


@pytest.mark.parametrize("value", ["", " /lead", "/trail ", "/line\nbreak"])
def test_path_refuses_what_a_unit_cannot_hold(value):
    with pytest.raises(AnsibleFilterError, match="cannot be written into a unit file"):
        systemd.systemd_path(value)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_reads_the_escaped_values_without_complaint(tmp_path):
    executable = tmp_path / "bin dir%" / "server"
    executable.parent.mkdir()
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    lines = ["[Service]", "Type=simple", f"WorkingDirectory={systemd.systemd_path(str(tmp_path / 'a b%'))}"]
    lines += [f"Environment={entry}" for entry in systemd.systemd_environment({"X": HOSTILE, "Y": "x\ny"})]
    words = [systemd.systemd_exec_arg(word) for word in (str(executable), HOSTILE, "", "a;b", "$HOME")]
    lines += ["ExecStart=" + " ".join(words), "[Install]", "WantedBy=multi-user.target"]
    unit = tmp_path / "escaped.service"
    unit.write_text("\n".join(lines) + "\n")
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert (verify.returncode, verify.stderr) == (0, "")
