"""The oldest ansible-core that the collection claims is the one its tests run on.

Claims: README's support matrix, meta/runtime.yml's requires_ansible and every role's
min_ansible_version. Tested: the ansible-core pinned in pyproject.toml (`make venv` installs it and
every test, lint and Molecule scenario runs on it). A claim below the tested minor is a promise
nobody checks: ansible-core 2.16, for one, cannot `validate: systemd-analyze verify %s` a unit.
"""

import re
from pathlib import Path

import pytest
import tomllib
import yaml
from ansible.release import __version__ as installed_ansible_core
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
# | ansible-core (controller) | <supported> | <tested by make test> |
MATRIX_ROW = re.compile(r"^\| ansible-core \(controller\) \| (?P<claim>[^|]+?) \| (?P<tested>[^|]+?) \|$", re.M)


def pinned_ansible_core() -> Version:
    """The ansible-core version of pyproject.toml's dev requirements (`ansible-core==X.Y.Z`)."""
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = [req.split("==")[1] for req in dev if req.startswith("ansible-core==")]
    assert len(pins) == 1, f"pyproject.toml pins ansible-core exactly once, not {pins}"
    return Version(pins[0])


def minor(version: Version) -> tuple[int, int]:
    return version.release[0], version.release[1]


def readme_matrix_row() -> dict[str, str]:
    match = MATRIX_ROW.search((REPO / "README.md").read_text())
    assert match, "README's support matrix has no row `| ansible-core (controller) | <supported> | <tested> |`"
    return match.groupdict()


def role_minimums() -> dict[str, str]:
    metas = sorted(REPO.glob("roles/*/meta/main.yml"))
    return {
        meta.parts[-3]: str(yaml.safe_load(meta.read_text())["galaxy_info"]["min_ansible_version"]) for meta in metas
    }


def test_the_tests_run_on_the_pinned_ansible_core():
    assert Version(installed_ansible_core) == pinned_ansible_core(), "run `make venv`: the venv is not the pinned one"


def test_readme_claims_no_ansible_core_older_than_the_tested_one():
    row = readme_matrix_row()
    claimed = [Version(v) for v in re.findall(r"\d+\.\d+", row["claim"])]
    assert claimed, f"no version in README's claim {row['claim']!r}"
    assert min(minor(v) for v in claimed) == minor(pinned_ansible_core()), row
    assert str(pinned_ansible_core()) in row["tested"], row


def test_requires_ansible_admits_the_tested_minor_and_nothing_older():
    tested = pinned_ansible_core()
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    spec = SpecifierSet(runtime["requires_ansible"])
    major, tested_minor = minor(tested)
    assert tested in spec, runtime["requires_ansible"]
    assert Version(f"{major}.{tested_minor}.0") in spec, runtime["requires_ansible"]
    assert Version(f"{major}.{tested_minor - 1}.999") not in spec, runtime["requires_ansible"]


@pytest.mark.parametrize("role", sorted(role_minimums()))
def test_role_claims_the_tested_minor(role):
    tested = pinned_ansible_core()
    assert minor(Version(role_minimums()[role])) == minor(tested), f"roles/{role}/meta/main.yml"
