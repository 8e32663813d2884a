"""Writes one benchmark's section of docs/benchmarks.md, leaving the other sections as they are."""

import os
import platform
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is written by the benchmark script it names; rerun the command to refresh it.\n"


def machine():
    return f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def write_section(name, lines):
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    section = "\n".join([begin, f"## {name}", "", f"Machine: {machine()}.", "", *lines, end])
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    BENCHMARKS.parent.mkdir(exist_ok=True)
    BENCHMARKS.write_text(text)
