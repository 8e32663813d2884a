"""Helpers for the Molecule verifiers (pytest-testinfra, run by `molecule verify`)."""

import json
import os
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parents[2]
CONFIG_DB = "/etc/sonic/config_db.json"
SYSCTL_FILE = "/etc/sysctl.d/90-edgefaas-k3s-mgmt-vrf.conf"
L3MDEV = ("net.ipv4.tcp_l3mdev_accept", "net.ipv4.udp_l3mdev_accept")


@pytest.hookimpl(trylast=True)  # after pytest's own reordering (by parametrized fixtures), which could undo it
def pytest_collection_modifyitems(items):
    """Read-only tests first, then the tests marked destructive, each group in collection order.

    One lab serves several stages' tests (the default scenario): every read-only test sees the lab
    as converged, whatever a destructive test of another stage changed or failed to put back.
    """
    items.sort(key=lambda item: item.get_closest_marker("destructive") is not None)


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


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def run_stage(playbook, extra_vars=None, limit=None, check=False, diff=False, timeout=900, options=()):
    """A playbook of the collection on Molecule's lab; returns (rc, output without colours).

    options: more ansible-playbook arguments, e.g. ["--tags", "k3s"].
    """
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, *options]
    command += ["-e", json.dumps(extra_vars or {})]
    command += ["--limit", limit] if limit else []
    command += ["--check"] if check else []
    command += ["--diff"] if diff else []
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=timeout)
    return proc.returncode, ANSI_ESCAPE.sub("", proc.stdout + proc.stderr)


def changed_counts(output):
    """changed= of each host in a play recap."""
    return {host: int(changed) for host, changed in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


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


def lab_host(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"], sudo=True)


# The lab's switches: the K3s server and a K3s agent.
SWITCHES = ("sonic-1", "sonic-2")


@pytest.fixture(scope="module")
def sonic(request):
    """A lab switch: sonic-1 (the K3s server) unless the test parametrizes it (indirect) with another name."""
    return lab_host(getattr(request, "param", "sonic-1"))


@pytest.fixture(scope="module")
def nano2():
    return lab_host("nano-2")


def run_role(hosts, role, extra_vars=None, check=False, tasks_from=None, after=None):
    """Runs a role of the collection through Molecule's inventory with gather_facts off, as node_prep does.

    Returns (results, stats): results maps task name to {host: result}, stats the play recap per host.
    `after` lists tasks run after the role (to read facts).
    """
    include = {"name": f"edgefaas.platform.{role}"}
    if tasks_from:
        include["tasks_from"] = tasks_from
    tasks = [{"name": "run the role", "ansible.builtin.include_role": include}, *(after or [])]
    return run_play([{"hosts": hosts, "gather_facts": False, "tasks": tasks}], check=check, extra_vars=extra_vars)


def read_facts(*names):
    return [{"name": "read facts", "ansible.builtin.debug": {"msg": {n: "{{ " + n + " }}" for n in names}}}]


def failures(results):
    return {name: r for name, hosts in results.items() for r in hosts.values() if r.get("failed")}


def inventory(groups, hostvars):
    """An inventory as data: {group: [host, ...]} with the lab's connection variables."""
    children = {group: {"hosts": {h: hostvars[h] for h in hosts}} for group, hosts in groups.items()}
    return {"all": {"children": {"edge": {"children": children}}}}


def no_change(output):
    changed = [int(n) for n in re.findall(r"changed=(\d+)", output)]
    return bool(changed) and not any(changed)


def read_json(host, path):
    return json.loads(host.check_output(f"cat {path}"))


def write_json(host, path, data):
    host.check_output(f"printf '%s\\n' {shlex.quote(json.dumps(data, indent=4, sort_keys=True))} > {path}")


@pytest.fixture
def config_db_restored(sonic):
    """Gives the test the switch's config_db.json to change and puts the original back byte for byte."""
    sonic.check_output(f"cp -p {CONFIG_DB} /root/config_db.json.node-prep")
    yield read_json(sonic, CONFIG_DB)
    sonic.check_output(f"mv /root/config_db.json.node-prep {CONFIG_DB}")
    sonic.check_output(f"rm -f {CONFIG_DB}.*~")  # the role's backups


@pytest.fixture
def writable_proc_sys(sonic):
    """Lets the switch write net.* sysctls (its own network namespace) for the duration of a test.

    Podman mounts /proc/sys read-only. Until the lab starts containers with
    `--security-opt unmask=/proc/sys`, the test remounts it read-write (CAP_SYS_ADMIN allows it)
    and read-only again afterwards.
    """
    mount = sonic.check_output("grep ' /proc/sys ' /proc/self/mountinfo || true")
    read_only = " ro," in f" {mount.split()[5]}," if mount else False
    if read_only:
        sonic.check_output("mount -o remount,bind,rw /proc/sys")
    yield
    sonic.check_output(f"rm -f {SYSCTL_FILE}")
    for name in L3MDEV:
        sonic.check_output(f"sysctl -qw {name}=0")
    if read_only:
        sonic.check_output("mount -o remount,bind,ro /proc/sys")
