"""The set-up's package list (tests/lab/host-deps.txt): well formed, and naming every tool that a
script under tests/ checks for before it runs (`for tool in ...; do command -v "$tool"`)."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HOST_DEPS = REPO / "tests" / "lab" / "host-deps.txt"
TOOL_LOOP = re.compile(r"^\s*for tool in ([^;]+); do$", re.M)


def entries():
    """(needed, package) of every entry: comments and blank lines skipped, as host-deps.sh does."""
    lines = (line.split("#", 1)[0].split() for line in HOST_DEPS.read_text().splitlines())
    return [tuple(fields) for fields in lines if fields]


def test_every_entry_names_one_program_or_file_and_one_package():
    assert entries()
    for entry in entries():
        assert len(entry) == 2, entry
        needed, package = entry
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", package), entry
        assert needed.startswith("/") or "/" not in needed, entry


def test_every_tool_that_a_script_checks_for_is_listed():
    listed = {entry[0] for entry in entries()}
    for script in sorted((REPO / "tests").rglob("*.sh")):
        for loop in TOOL_LOOP.findall(script.read_text()):
            assert set(loop.split()) <= listed, f"{script.relative_to(REPO)}: {loop}"
