"""Wall time of the k3s stage on the lab of `make lab`: a first run on hosts without K3s, then a second.

Needs the lab up (`make lab`). Removes K3s with reset.yml (Parsec and the rest stay), then times
`ansible-playbook edgefaas.platform.k3s` twice: the first installs the server and both agents and
waits for every node to be Ready, the second finds everything in place (changed=0). Writes the
result into docs/benchmarks.md. Run as root from the repository root, in make's environment:

    make venv && PATH=.venv/bin:$PATH CONTAINERS_CONF=tests/lab/containers.conf python3 tests/bench/bench_k3s.py
"""

import os
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

COMMAND = "PATH=.venv/bin:$PATH CONTAINERS_CONF=tests/lab/containers.conf python3 tests/bench/bench_k3s.py"
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


def playbook(name, *args):
    start = time.monotonic()
    proc = subprocess.run(
        ["ansible-playbook", f"edgefaas.platform.{name}", *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed, sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))


def main():
    playbook("reset", "-e", "k3s_reset_confirm=true")
    first, first_changed = playbook("k3s")
    second, second_changed = playbook("k3s")
    if second_changed:
        sys.exit(f"the second run changed {second_changed} things: the stage is not idempotent")
    rows = [
        "| run | wall time | changed tasks |",
        "|---|---|---|",
        f"| first k3s stage (after reset.yml: no K3s on any host) | {first:.1f} s | {first_changed} |",
        f"| second k3s stage (cluster up, all nodes Ready) | {second:.1f} s | {second_changed} |",
    ]
    load = os.getloadavg()[0]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"Command: `{COMMAND}` ({when}, {platform.node()}, load average {load:.1f} when it finished).",
        "",
        "The lab of `make lab`: the K3s server on sonic-1, agents on nano-1 and nano-2, from the lab's air-gap",
        "directory (the K3s double with a real kube-apiserver over kine/SQLite). The first run includes starting",
        "the control plane and waiting for the three nodes to be Ready.",
        "",
        *rows,
    ]
    write_section("k3s stage", body)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
