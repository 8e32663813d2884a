"""Helpers for the Molecule verifiers (pytest-testinfra, run by `molecule verify`)."""

import json
import os
import subprocess
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


@pytest.fixture(scope="session")
def play(tmp_path_factory):
    """Runs tasks on lab hosts through Molecule's inventory; returns {task name: {host: result}}.

    Uses the json stdout callback so that tests read each task's real result (changed, failed,
    return values) instead of scraping text.
    """

    def run(hosts, tasks, check=False, become_user=None, extra_vars=None):
        playbook = tmp_path_factory.mktemp("play") / "play.yml"
        spec = {"hosts": hosts, "gather_facts": False, "become": True, "tasks": tasks}
        if become_user:
            spec["become_user"] = become_user
        playbook.write_text(json.dumps([spec]))
        cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
        if check:
            cmd.append("--check")
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=REPO)
        # Other callbacks (the timer) may print after the JSON document.
        report = json.JSONDecoder().raw_decode(proc.stdout)[0]
        return {task["task"]["name"]: task["hosts"] for play in report["plays"] for task in play["tasks"]}

    return run
