"""Partial runs on the converged site lab: each advertised tag alone, and the k3s stage with another pin.

A run with one tag must find the site converged (changed=0) and must not move where the switch's
K3s keeps its data: a fact one role computes for another (the sonic role's data directory, the
jetson role's runtime facts, the server's join information) may not depend on the tags. The k3s
stage never moves a running node to another K3s version: that is upgrade.yml's rolling, drained job.
"""

import re
from pathlib import Path

import pytest
import yaml
from conftest import changed_counts, lab_host, run_stage

REPO = Path(__file__).resolve().parents[2]
SITE = "edgefaas.platform.site"
K3S_CONFIG = "/etc/rancher/k3s/config.yaml"
# The lab's air-gap directory holds both releases (tests/lab/stage-artifacts.sh); the inventory pins the first.
PINNED_VERSION = "v1.37.2+k3s1"
OTHER_VERSION = "v1.37.2+k3s2"
NODES = ("sonic-1", "nano-1", "nano-2")

# Where the operator reads which tags exist: a sentence "Tags: ..." names them in backticks, a command
# line with --tags uses them.
DOCS = (
    REPO / "README.md",
    *sorted((REPO / "docs").glob("**/*.md")),
    *sorted((REPO / "roles").glob("*/README.md")),
    *sorted((REPO / "playbooks").glob("*.yml")),
)
TAGS_SENTENCE = re.compile(r"\bTags:(.*?)(?:\.\s|\.?\Z)", re.S)
TAGS_OPTION = re.compile(r"--tags[ =]([\w,]+)")


def advertised_tags():
    """{tag: the first document that advertises it}, from DOCS."""
    found = {}
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for sentence in TAGS_SENTENCE.findall(text):
            for tag in re.findall(r"`([A-Za-z0-9_]+)`", sentence):
                found.setdefault(tag, path.relative_to(REPO))
        for option in TAGS_OPTION.findall(text):
            for tag in option.split(","):
                found.setdefault(tag, path.relative_to(REPO))
    return found


ADVERTISED = advertised_tags()


def collection_tags():
    """Every tag the collection's plays and tasks carry, also those a dynamic include applies (apply: tags),
    which `ansible-playbook --list-tags` cannot see."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            tags = node.get("tags")
            found.update([tags] if isinstance(tags, str) else tags or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (*(REPO / "playbooks").glob("*.yml"), *(REPO / "roles").glob("*/tasks/*.yml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def task_counts(output):
    """Tasks each host went through (ok= plus skipped= of the play recap; a task that tags leave out is in neither)."""
    recap = re.findall(r"^(\S+)\s+: ok=(\d+)\s.*\sskipped=(\d+)\s", output, re.M)
    return {host: int(ok) + int(skipped) for host, ok, skipped in recap}


@pytest.fixture(scope="module")
def untagged_run():
    """Tasks per host of a run whose tag matches no task: what runs whatever the tags (always)."""
    rc, output = run_stage(SITE, options=["--tags", "edgefaas_no_such_tag"])
    assert rc == 0, output[-4000:]
    return task_counts(output)


def server_data_dir():
    """The data-dir the switch's K3s runs with, as its config says."""
    return yaml.safe_load(lab_host("sonic-1").file(K3S_CONFIG).content_string)["data-dir"]


def test_the_docs_advertise_only_tags_the_site_has():
    assert {"k3s", "k3s_server", "k3s_agent", "sonic"} <= ADVERTISED.keys(), ADVERTISED
    tags = collection_tags()
    unknown = {tag: str(doc) for tag, doc in ADVERTISED.items() if tag not in tags}
    assert not unknown, f"tags advertised that no play or task of the collection has: {unknown}"


@pytest.mark.destructive  # before the fix, a tag moved K3s onto an empty datastore
@pytest.mark.parametrize("tag", sorted(ADVERTISED))
def test_a_tag_alone_finds_the_site_converged_and_keeps_the_data_dir(tag, untagged_run):
    data_dir = server_data_dir()
    rc, output = run_stage(SITE, options=["--tags", tag])
    assert rc == 0, output[-4000:]
    ran = task_counts(output)
    assert any(ran[host] > untagged_run[host] for host in ran), (f"--tags {tag} ran nothing of its own", output[-4000:])
    counts = changed_counts(output)
    assert counts and not any(counts.values()), (tag, counts, output[-4000:])
    assert server_data_dir() == data_dir


def k3s_versions():
    return {name: lab_host(name).check_output("/usr/local/bin/k3s --version").splitlines()[0] for name in NODES}


@pytest.mark.destructive  # before the fix, the k3s stage moved every node at once, undrained
def test_the_k3s_stage_refuses_to_move_running_nodes_to_another_pin():
    before = k3s_versions()
    assert all(PINNED_VERSION in line for line in before.values()), before
    rc, output = run_stage("edgefaas.platform.k3s", {"k3s_version": OTHER_VERSION})
    flat = " ".join(output.split())
    assert rc != 0, output[-4000:]
    for name in NODES:
        assert f"{name} runs K3s {PINNED_VERSION}, but k3s_version is {OTHER_VERSION}" in flat, output[-4000:]
    assert f"set k3s_version: {PINNED_VERSION} in the inventory" in flat
    assert "run edgefaas.platform.upgrade" in flat
    counts = changed_counts(output)
    assert counts and not any(counts.values()), (counts, output[-4000:])
    assert k3s_versions() == before
