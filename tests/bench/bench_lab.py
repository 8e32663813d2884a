"""Wall time of `make lab` on a machine where the host images are already built.

Removes the lab (`make lab-down`), then times the first `make lab` (containers created, site.yml
run) and the second (everything in place: changed=0), and writes the result into
docs/benchmarks.md between this benchmark's markers. Run as root from the repository root:

    python3 tests/bench/bench_lab.py
"""

import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_section  # noqa: E402

COMMAND = "python3 tests/bench/bench_lab.py"


def timed_make(target):
    start = time.monotonic()
    proc = subprocess.run(["make", target], cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"make {target} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def changed_total(output):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output))


def main():
    subprocess.run(["make", "images"], cwd=REPO, check=True, capture_output=True)
    timed_make("lab-down")
    first, first_out = timed_make("lab")
    second, second_out = timed_make("lab")
    rows = [
        "| run | wall time | changed tasks |",
        "|---|---|---|",
        f"| first `make lab` (lab absent, images built) | {first:.1f} s | {changed_total(first_out)} |",
        f"| second `make lab` (lab up) | {second:.1f} s | {changed_total(second_out)} |",
    ]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"Command: `{COMMAND}` ({when}, {platform.node()}, {platform.machine()}).",
        "",
        *rows,
    ]
    write_section("make lab", body)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
