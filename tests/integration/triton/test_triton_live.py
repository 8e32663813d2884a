"""Live tests against a running Triton whose repository holds the digits model.

TRITON_TEST_URL (host:port of Triton's HTTP endpoint, started with --model-control-mode explicit)
and TRITON_TEST_SAMPLES (the held-out images written by tests/lab/triton/train_digits.py) select
the server; tests/integration/triton/run-local.sh sets both. The module runs through the real
`ansible` command (AnsiballZ), the client through its Python API and as a plain script.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils import triton_digits
from ansible_collections.edgefaas.platform.plugins.module_utils.triton import ShapeError, TritonClient, TritonError

URL = os.environ.get("TRITON_TEST_URL")
SAMPLES = os.environ.get("TRITON_TEST_SAMPLES")
REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL = "digits"
DIGITS_CONFIG = {
    "backend": "python",
    "max_batch_size": 8,
    "input": [{"name": "IMAGE", "data_type": "TYPE_FP32", "dims": [8, 8]}],
    "output": [
        {"name": "PROBABILITIES", "data_type": "TYPE_FP32", "dims": [10]},
        {"name": "LABEL", "data_type": "TYPE_INT32", "dims": [1]},
    ],
}

pytestmark = pytest.mark.skipif(
    not (URL and SAMPLES),
    reason="needs TRITON_TEST_URL and TRITON_TEST_SAMPLES of a running Triton (tests/integration/triton/run-local.sh)",
)


def run_module(check=False, **args):
    """Run edgefaas.platform.triton_model through `ansible` on localhost; return its result."""
    command = [
        str(Path(sys.executable).parent / "ansible"),
        "localhost",
        "--connection=local",
        "--inventory=localhost,",
        f"--extra-vars=ansible_python_interpreter={sys.executable}",
        "--module-name=edgefaas.platform.triton_model",
        "--args=" + json.dumps(dict({"url": URL}, **args)),
        "--diff",
    ] + (["--check"] if check else [])
    environment = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO_ROOT / ".cache" / "collections")),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )
    # Run outside the checkout: its ansible.cfg enables callbacks that print after the JSON.
    completed = subprocess.run(
        command, env=environment, cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=300, check=False
    )
    try:
        output = json.loads(completed.stdout)
    except ValueError:
        pytest.fail(f"ansible printed no JSON (exit {completed.returncode}): {completed.stdout} {completed.stderr}")
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def assert_cycle(args, first_state):
    """check, real, idempotent, idempotent check: changed, changed, not, not."""
    for check, changed in ((True, True), (False, True), (False, False), (True, False)):
        result = run_module(check=check, **args)
        assert not result.get("failed"), result
        assert result["changed"] is changed, (check, result)
        assert result["state"] == (first_state if check and changed else args_state(args)), result


def args_state(args):
    return "UNAVAILABLE" if args.get("state") == "unloaded" else "READY"


@pytest.fixture
def client():
    return TritonClient(URL, timeout=60)


@pytest.fixture
def samples():
    with open(SAMPLES, encoding="utf-8") as stream:
        return json.load(stream)


@pytest.fixture
def digits_loaded(client):
    """The digits model READY (tests that override its configuration restore it themselves)."""
    if not client.is_model_ready(MODEL):
        client.load_model(MODEL)


@pytest.fixture
def digits_unloaded(client):
    client.unload_model(MODEL)
    client.settled_entries(MODEL)
    yield
    client.load_model(MODEL)


def test_load_and_unload_cycles(digits_unloaded, client):
    assert_cycle({"name": MODEL, "versions": ["1"]}, first_state="UNAVAILABLE")
    assert client.is_model_ready(MODEL)
    assert_cycle({"name": MODEL, "state": "unloaded"}, first_state="READY")
    assert not client.is_model_ready(MODEL)
    with pytest.raises(TritonError) as caught:
        triton_digits.classify([[0] * 8] * 8, client=client)
    assert caught.value.status in (400, 404)


def test_missing_model_is_named(digits_loaded):
    result = run_module(name="no_such_model")
    assert result["failed"]
    assert (
        f"model 'no_such_model' not found in the model repository of the Triton server at http://{URL}" in result["msg"]
    )
    assert "(it holds: digits)" in result["msg"]


def test_unloading_a_missing_model_is_no_change(digits_loaded):
    result = run_module(name="no_such_model", state="unloaded")
    assert (result.get("failed", False), result["changed"]) == (False, False)


def test_bad_config_leaves_the_model_unavailable_with_tritons_reason(digits_unloaded):
    result = run_module(name=MODEL, config=dict(DIGITS_CONFIG, backend="no_such_backend"))
    assert result["failed"]
    assert (result["state"], result["versions"]) == ("UNAVAILABLE", [])
    assert "unable to find backend library for backend 'no_such_backend'" in result["reason"]
    assert result["reason"] in result["msg"]


def test_bad_config_on_a_ready_model_keeps_it_serving(digits_loaded, client):
    result = run_module(name=MODEL, config=dict(DIGITS_CONFIG, backend="no_such_backend"))
    assert result["failed"]
    assert "Triton keeps serving the versions loaded before (1)" in result["msg"]
    assert result["state"] == "READY"
    assert triton_digits.classify([[0] * 8] * 8, client=client)["label"] in range(10)


def test_config_override_is_applied_once_with_a_diff(digits_loaded, client, samples):
    first = run_module(name=MODEL, config=DIGITS_CONFIG)
    assert first["changed"] is True, first
    assert first["diff"]["before"]["config"]["max_batch_size"] == 64
    assert first["diff"]["after"]["config"]["max_batch_size"] == 8
    assert client.model_config(MODEL)["max_batch_size"] == 8
    assert run_module(name=MODEL, config=DIGITS_CONFIG)["changed"] is False
    # batches of 8 now: the client follows the loaded configuration
    assert len(triton_digits.classify_many([sample["image"] for sample in samples[:20]], client)) == 20
    # Triton keeps the override across plain loads of unchanged files; unload and load restores config.pbtxt
    assert run_module(name=MODEL, reload=True)["changed"] is True
    assert client.model_config(MODEL)["max_batch_size"] == 8
    assert run_module(name=MODEL, state="unloaded")["changed"] is True
    assert run_module(name=MODEL)["changed"] is True
    assert client.model_config(MODEL)["max_batch_size"] == 64


def test_accuracy_on_held_out_images(digits_loaded, client, samples):
    report = triton_digits.classification_test(client, samples, MODEL, min_accuracy=0.9)
    assert report["images"] == len(samples) >= 400
    assert report["accuracy"] >= 0.9, report


def test_health_and_metadata(digits_loaded, client):
    report = triton_digits.health_test(client, MODEL)
    assert report["passed"], report
    assert report["server"]["name"] == "triton"
    assert report["model_versions"] == ["1"]
    assert report["model_inputs"] == [{"name": "IMAGE", "datatype": "FP32", "shape": [-1, 8, 8]}]


def test_wrong_input_shape_names_expected_and_given(digits_loaded, client):
    with pytest.raises(ShapeError, match=r"model 'digits' input 'IMAGE' expects shape \[-1, 8, 8\], given \[1, 64\]"):
        client.infer(MODEL, {"IMAGE": ([1, 64], [0.0] * 64)})
    with pytest.raises(ShapeError, match="given 7x8"):
        triton_digits.classify([[0] * 8] * 7, client=client)
    # Triton itself refuses the same request, naming both shapes too
    body = {"inputs": [{"name": "IMAGE", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}]}
    with pytest.raises(TritonError, match=r"Expected \[-1,8,8\], got \[1,64\]"):
        client.request("POST", f"/v2/models/{MODEL}/infer", body)


@pytest.fixture
def test_case_directory(tmp_path):
    """The files of the test-case ConfigMap, as a pod mounts them."""
    for source in (
        REPO_ROOT / "plugins" / "module_utils" / "triton.py",
        REPO_ROOT / "plugins" / "module_utils" / "triton_digits.py",
        REPO_ROOT / "roles" / "triton" / "files" / "test-cases" / "triton_test_cases.py",
    ):
        shutil.copy(source, tmp_path / source.name)
    shutil.copy(SAMPLES, tmp_path / "digits-samples.json")
    return tmp_path


@pytest.mark.parametrize("command", [["classify", "--samples", "digits-samples.json", "--limit", "50"], ["health"]])
def test_both_test_cases_run_from_the_configmap_files(digits_loaded, test_case_directory, command):
    # Plain Python without the collection on the path, as in the Jobs' pods
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["TRITON_URL"] = URL
    completed = subprocess.run(
        [sys.executable, "triton_test_cases.py", *command],
        cwd=test_case_directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(completed.stdout)
    assert (completed.returncode, report["passed"]) == (0, True), completed.stderr or report
