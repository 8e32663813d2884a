"""Helpers for the Molecule verifiers (pytest-testinfra, run by `molecule verify`)."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def molecule_inventory():
    """Molecule's generated inventory as data (hosts, their groups and connection variables)."""
    out = subprocess.run(
        ["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


@pytest.fixture(scope="session")
def lab_hostvars():
    return molecule_inventory()["_meta"]["hostvars"]


@pytest.fixture(scope="session")
def run_playbook(tmp_path_factory):
    """Runs a playbook of the collection against an inventory given as data; returns (rc, output)."""

    def run(playbook, inventory, extra_vars=None, check=False):
        inv = tmp_path_factory.mktemp("inv") / "hosts.json"
        inv.write_text(json.dumps(inventory))
        cmd = ["ansible-playbook", "-i", str(inv), playbook]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=REPO)
        return proc.returncode, proc.stdout + proc.stderr

    return run


def run_play(play, check=False, extra_vars=None):
    """Runs plays (as data) through Molecule's inventory with the json stdout callback.

    Returns (results, stats): results maps task name to {host: result} (changed, failed, return
    values), stats the play recap per host, so tests read real results instead of scraping text.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=REPO / ".cache") as playbook:
        playbook.write(json.dumps(play))
        playbook.flush()
        cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook.name]
        if check:
            cmd.append("--check")
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=REPO)
    try:  # the JSON report, then what other callbacks print (ansible.posix.timer)
        report = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])[0]
    except ValueError:
        pytest.fail(f"ansible-playbook printed no JSON (rc {proc.returncode}): {proc.stdout}\n{proc.stderr}")
    results = {}
    for play_report in report["plays"]:
        for task in play_report["tasks"]:
            for host, result in task["hosts"].items():
                results.setdefault(task["task"]["name"], {})[host] = result
    return results, report["stats"]


@pytest.fixture(scope="session")
def play():
    """Runs tasks on lab hosts as root (or become_user); returns {task name: {host: result}}."""

    def run(hosts, tasks, check=False, become_user=None, extra_vars=None):
        spec = {"hosts": hosts, "gather_facts": False, "become": True, "tasks": tasks}
        if become_user:
            spec["become_user"] = become_user
        return run_play([spec], check=check, extra_vars=extra_vars)[0]

    return run
