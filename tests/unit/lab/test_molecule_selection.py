"""Every Molecule test runs in exactly one scenario: none falls out of CI, none costs a second lab.

Each scenario's verifier (molecule/<scenario>/molecule.yml over .config/molecule/config.yml) selects
from tests/molecule with pytest options, by the markers declared in pyproject.toml: `own_lab` puts a
test on one stage scenario's own lab, all others run on the site lab of the default scenario. This
collects tests/molecule with each scenario's options, turned into arguments as Molecule does
(molecule.util.dict2args), without a lab.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from molecule.util import dict2args

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = sorted(path.parent.name for path in (REPO / "molecule").glob("*/molecule.yml"))
SITE_LAB = "default"


def verifier_settings(path):
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("verifier") or {}


def verifier_arguments(scenario):
    """The pytest options Molecule gives the scenario's verifier: the shared ones, then the scenario's."""
    shared = verifier_settings(REPO / ".config" / "molecule" / "config.yml")
    own = verifier_settings(REPO / "molecule" / scenario / "molecule.yml")
    assert "directory" not in own, f"molecule/{scenario}: this check expects the shared directory tests/molecule"
    return dict2args({**shared.get("options", {}), **own.get("options", {})})


def collect(directory, arguments):
    """{node id: markers} of the tests pytest collects from tests/molecule with these arguments."""
    report = directory / "collected.json"
    env = dict(
        os.environ,
        EDGEFAAS_COLLECTED=str(report),
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "molecule_markers", *arguments]
    proc = subprocess.run(
        [*command, "tests/molecule"], cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode in (0, 5), proc.stdout + proc.stderr  # 5: the options selected nothing
    return json.loads(report.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def every_test(tmp_path_factory):
    return collect(tmp_path_factory.mktemp("all"), ["-p", "no:cacheprovider"])


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    """{scenario: {node id: markers}} of what each scenario's verifier runs."""
    return {name: collect(tmp_path_factory.mktemp(name), verifier_arguments(name)) for name in SCENARIOS}


def test_the_scenarios_include_the_site_lab_and_tests_exist(every_test):
    assert SITE_LAB in SCENARIOS, SCENARIOS
    assert every_test, "no test collected from tests/molecule"


def test_every_molecule_test_runs_in_exactly_one_scenario(every_test, selected):
    runs_in = {test: [name for name in SCENARIOS if test in selected[name]] for test in every_test}
    nowhere = sorted(test for test, names in runs_in.items() if not names)
    assert not nowhere, (
        f"no scenario runs {nowhere}: mark them own_lab(scenario=...) with one of {SCENARIOS}, or leave "
        "them unmarked for the site lab (molecule/default)"
    )
    twice = {test: names for test, names in runs_in.items() if len(names) > 1}
    assert not twice, f"these run in several scenarios (one lab each): {twice}; fix the verifier options"


def test_a_stage_scenario_runs_only_tests_that_need_its_own_lab(selected):
    for name in SCENARIOS:
        if name == SITE_LAB:
            continue
        needless = sorted(
            test
            for test, marks in selected[name].items()
            if not marks["destructive"] and not (marks["own_lab"] or {}).get("reason")
        )
        assert not needless, (
            f"molecule/{name} runs {needless}, which neither change the lab (mark destructive) nor say why "
            "they need its own lab (own_lab reason=...): leave them to the site lab (molecule/default)"
        )
