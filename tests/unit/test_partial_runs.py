"""Stage playbooks run alone or on part of the site: they work or refuse, before any change, with the remedy.

Controller-only: the playbooks are read as data, and ansible-playbook runs against an inventory whose
hosts are 127.0.0.1 on a closed port, so a task that reached a host would show as UNREACHABLE.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
# Host patterns of the plays that reach a Jetson: its group, the groups above it, the K3s agents' group.
JETSON_PATTERNS = {"jetson", "edge", "all", "k3s_agents"}
# Modules that run on the controller only (no Python needed on the target).
CONTROLLER_ONLY = {
    "ansible.builtin.assert",
    "ansible.builtin.group_by",
    "ansible.builtin.add_host",
    "ansible.builtin.debug",
    "ansible.builtin.fail",
}
# Task files of the collection made of such modules only.
CONTROLLER_ONLY_TASK_FILES = {("edgefaas.platform.preflight", "inventory"), ("edgefaas.platform.preflight", "limit")}
BOOTSTRAP = ("edgefaas.platform.jetson", "python")


def plays(playbook):
    """The plays of a playbook in run order, imports followed, as (file name, play)."""
    for entry in yaml.safe_load(playbook.read_text()):
        if "ansible.builtin.import_playbook" in entry:
            yield from plays(PLAYBOOKS / entry["ansible.builtin.import_playbook"])
        else:
            yield playbook.name, entry


def tasks_of(play):
    return [*play.get("pre_tasks", []), *play.get("tasks", [])]


def included_role(task):
    include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
    return (include["name"], include.get("tasks_from", "main")) if include else None


def controller_only(play):
    """No fact gathering, no role, and only tasks that run on the controller."""
    if play.get("gather_facts", True) or play.get("roles"):
        return False
    return all(included_role(t) in CONTROLLER_ONLY_TASK_FILES or CONTROLLER_ONLY & set(t) for t in tasks_of(play))


def bootstraps_python(play):
    """The play starts with the jetson role (its first tasks are python.yml) or its python tasks."""
    roles = [r["role"] if isinstance(r, dict) else r for r in play.get("roles", [])]
    if roles:
        return roles[0] == "edgefaas.platform.jetson" and not tasks_of(play)
    first = tasks_of(play)[:1]
    return bool(first) and included_role(first[0]) == BOOTSTRAP and not play.get("gather_facts", True)


@pytest.mark.parametrize("playbook", sorted(p.name for p in PLAYBOOKS.glob("*.yml")))
def test_the_first_play_that_runs_modules_on_a_jetson_bootstraps_its_python(playbook):
    """L4T R32's Python 3.6 runs no module and gathers no facts: every stage, run alone, bootstraps first."""
    for source, play in plays(PLAYBOOKS / playbook):
        reaches_jetson = JETSON_PATTERNS & set(play["hosts"].replace(",", ":").split(":"))
        if not reaches_jetson or controller_only(play):
            continue
        assert bootstraps_python(play), (
            f"{playbook}: play {play['name']!r} ({source}) runs modules on the Jetsons before their Python is bootstrapped:"
            " import jetson_python.yml first"
        )
        return


# --- --limit -------------------------------------------------------------------------------------

NOWHERE = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_ssh_common_args": "-o ConnectTimeout=2"}
# The earlier layout: the switch's group is the server, the Jetsons' the agents.
SITE = {
    "all": {
        "children": {
            "edge": {
                "children": {
                    "sonic": {"hosts": {"sonic-1": NOWHERE}},
                    "jetson": {"hosts": {"nano-1": NOWHERE, "nano-2": NOWHERE}},
                }
            }
        }
    }
}


def run_playbook(tmp_path, playbook, limit=None, site=None):
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps(site or SITE))
    command = ["ansible-playbook", "-i", str(inventory), playbook, *(["--limit", limit] if limit else [])]
    env = dict(
        os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0"
    )
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("playbook", ["edgefaas.platform.site", "edgefaas.platform.k3s", "edgefaas.platform.upgrade"])
def test_a_limit_to_an_agent_without_the_switch_is_refused_before_any_host_is_touched(tmp_path, playbook):
    rc, output = run_playbook(tmp_path, playbook, "nano-1")
    assert rc != 0, output
    assert "Run again with the server in the limit: --limit 'nano-1,sonic-1'" in output, output
    assert "UNREACHABLE" not in output, output  # refused on the controller: no host was contacted


def test_a_limit_with_the_switch_passes_the_check(tmp_path):
    limit_only = tmp_path / "limit.yml"
    play = {
        "hosts": "edge",
        "gather_facts": False,
        "tasks": [{"ansible.builtin.include_role": {"name": "edgefaas.platform.preflight", "tasks_from": "limit"}}],
    }
    limit_only.write_text(json.dumps([play]))
    rc, output = run_playbook(tmp_path, str(limit_only), "nano-1,sonic-1")
    assert rc == 0, output


def test_the_preflight_stage_alone_may_check_one_agent(tmp_path):
    """Its checks are per host: limited to nano-1 it goes to the host (here unreachable) instead of refusing."""
    output = run_playbook(tmp_path, "edgefaas.platform.preflight", "nano-1")[1]
    assert "UNREACHABLE" in output and "Run again with the server in the limit" not in output, output


# --- an inventory that breaks a rule -------------------------------------------------------------


@pytest.mark.parametrize("playbook", ["edgefaas.platform.site", "edgefaas.platform.preflight"])
def test_an_inventory_with_two_switches_is_refused_before_any_host_is_touched(tmp_path, playbook):
    """Not even a Jetson's Python is installed for a run the inventory's rules stop."""
    two_switches = json.loads(json.dumps(SITE))
    two_switches["all"]["children"]["edge"]["children"]["sonic"]["hosts"]["sonic-2"] = NOWHERE
    rc, output = run_playbook(tmp_path, playbook, site=two_switches)
    assert rc != 0, output
    assert "exactly one K3s server in group k3s_server; it names 2: sonic-1, sonic-2" in output, output
    assert "k3s_server: {hosts: {sonic-1: }}" in output, output  # the message shows the layout that works
    assert "UNREACHABLE" not in output, output


# --- the layout that separates K3s role from device ----------------------------------------------

# A second switch as a K3s agent beside the Jetsons.
LAYOUT = {
    "all": {
        "children": {
            "edge": {
                "children": {
                    "k3s_server": {"hosts": {"sonic-1": NOWHERE}},
                    "k3s_agents": {"hosts": {"sonic-2": NOWHERE, "nano-1": NOWHERE}},
                    "sonic": {"hosts": {"sonic-1": NOWHERE, "sonic-2": NOWHERE}},
                    "jetson": {"hosts": {"nano-1": NOWHERE}},
                }
            }
        }
    }
}


def layout(**groups):
    """LAYOUT with some groups of edge replaced ({group: [host, ...]})."""
    site = json.loads(json.dumps(LAYOUT))
    for group, hosts in groups.items():
        site["all"]["children"]["edge"]["children"][group] = {"hosts": dict.fromkeys(hosts, NOWHERE)}
    return site


def test_a_switch_may_be_an_agent(tmp_path):
    """The inventory's rules pass: the run goes on to the hosts (here unreachable)."""
    output = run_playbook(tmp_path, "edgefaas.platform.preflight", site=LAYOUT)[1]
    assert "UNREACHABLE" in output, output
    assert "Nothing was changed" not in output, output


def test_a_limit_to_a_switch_agent_without_the_server_is_refused(tmp_path):
    rc, output = run_playbook(tmp_path, "edgefaas.platform.k3s", "sonic-2", site=LAYOUT)
    assert rc != 0, output
    assert "Run again with the server in the limit: --limit 'sonic-2,sonic-1'" in output, output
    assert "UNREACHABLE" not in output, output


@pytest.mark.parametrize(
    ("site", "message"),
    [
        (layout(k3s_server=["sonic-1", "sonic-2"], k3s_agents=["nano-1"]), "it names 2: sonic-1, sonic-2"),
        (
            layout(k3s_server=["nano-1"], k3s_agents=["sonic-1", "sonic-2"]),
            "nano-1 is a Jetson (group jetson) but named as the K3s server (group k3s_server)",
        ),
        (layout(k3s_agents=["sonic-1", "sonic-2", "nano-1"]), "sonic-1 in both k3s_server and k3s_agents"),
        (layout(k3s_agents=["nano-1"]), "sonic-2 in group edge but in neither k3s_server nor k3s_agents"),
        (layout(k3s_agents=[]), "The inventory names no K3s agent"),
        (layout(jetson=["nano-1", "sonic-2"]), "sonic-2 in both device groups sonic and jetson"),
    ],
    ids=["two-servers", "jetson-as-server", "server-and-agent", "edge-host-without-role", "no-agent", "two-devices"],
)
@pytest.mark.parametrize("playbook", ["edgefaas.platform.site", "edgefaas.platform.k3s"])
def test_an_inventory_that_breaks_a_rule_is_refused_before_any_host_is_touched(tmp_path, playbook, site, message):
    rc, output = run_playbook(tmp_path, playbook, site=site)
    assert rc != 0, output
    assert message in output, output
    assert "UNREACHABLE" not in output, output
