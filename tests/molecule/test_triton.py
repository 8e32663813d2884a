"""Triton on the nanos after converge: the service, real inference from the controller and from sonic-1,
the triton_model module's unload/load cycle, a broken model next to a serving one, a restart, the
refusals of bad input before any change, and the pod manifest.

Selected by molecule/triton (verifier option `k: triton`). Traffic goes to the lab containers only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra
import yaml
from conftest import changed_counts, run_stage

from ansible_collections.edgefaas.platform.plugins.module_utils import triton_digits
from ansible_collections.edgefaas.platform.plugins.module_utils.triton import TritonClient, TritonError

REPO = Path(__file__).resolve().parents[2]
NANOS = ["nano-1", "nano-2"]
MODEL = "digits"
HTTP_PORT = 8000
SERVICE = "tritonserver"
ARTIFACTS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgefaas" / "lab-artifacts"
ARTIFACT = ARTIFACTS / "tritonserver-jetpack4.6.1.tgz"
DIGITS_DIR = ARTIFACTS / "models" / "digits"
SAMPLES = ARTIFACTS / "models" / "digits-samples.json"
TEST_CASE_FILES = [
    REPO / "plugins" / "module_utils" / "triton.py",
    REPO / "plugins" / "module_utils" / "triton_digits.py",
    REPO / "roles" / "triton" / "files" / "test-cases" / "triton_test_cases.py",
]
DIGITS_ENTRY = {"name": MODEL, "src": str(DIGITS_DIR), "versions": ["1"]}


# Helpers


def node(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"], sudo=True)


def ansible_env(**extra):
    """Molecule's environment (its ansible.cfg and collection path), without colours."""
    return dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **extra)


def run_module(host, module, args, check=False):
    """One module run through `ansible` on a lab host; returns its result."""
    command = ["ansible", host, "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-m", module, "-a", json.dumps(args)]
    command += ["--check", "--diff"] if check else ["--diff"]
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=600)
    start = proc.stdout.find("{")  # the JSON document comes first; the timer callback prints after it
    if start < 0:
        pytest.fail(f"ansible printed no JSON (exit {proc.returncode}): {proc.stdout} {proc.stderr}")
    document = json.JSONDecoder().raw_decode(proc.stdout[start:])[0]
    return document["plays"][0]["tasks"][0]["hosts"][host]


def run_triton_stage(limit, extra_vars=None):
    """The Triton stage playbook on some lab hosts with extra variables; returns (rc, output)."""
    return run_stage("edgefaas.platform.triton", extra_vars, limit=limit)


def wait_ready(client, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.is_server_ready() and client.is_model_ready(MODEL):
                return
        except TritonError:
            pass
        time.sleep(1)
    pytest.fail(f"Triton at {client.base_url} not ready with {MODEL} after {seconds} s")


def main_pid(host):
    return host.check_output(f"systemctl show -p MainPID --value {SERVICE}")


# Fixtures


@pytest.fixture(scope="module")
def addresses(lab_hostvars):
    return {name: lab_hostvars[name]["ansible_host"] for name in lab_hostvars}


@pytest.fixture(scope="module")
def samples():
    with open(SAMPLES, encoding="utf-8") as stream:
        return json.load(stream)


@pytest.fixture(scope="module")
def clients(addresses):
    return {name: TritonClient(f"{addresses[name]}:{HTTP_PORT}", timeout=60) for name in NANOS}


@pytest.fixture
def restore_lab_models():
    """Runs the stage with the lab's own settings afterwards (start list, models), and checks it worked."""
    yield
    rc, output = run_triton_stage("jetson")
    assert rc == 0, output[-3000:]


# The service and real inference


@pytest.mark.parametrize("name", ["sonic-1", "sonic-2"])
def test_switches_run_no_triton_whatever_their_k3s_role(name):
    """Triton follows the device (group jetson), not the K3s role: the agent switch sonic-2 has none."""
    host = node(name)
    assert not host.service(SERVICE).is_running
    assert not host.file("/opt/tritonserver").exists


@pytest.mark.parametrize("name", NANOS)
def test_service_active_enabled_and_unprivileged(name):
    host = node(name)
    service = host.service(SERVICE)
    assert service.is_running and service.is_enabled
    assert host.check_output(f"systemctl show -p User --value {SERVICE}") == "triton"
    assert host.check_output(f"ps -o user= -p {main_pid(host)}") == "triton"
    current = host.file("/opt/tritonserver/current")
    assert current.is_symlink and re.fullmatch(
        r"/opt/tritonserver/tritonserver-jetpack4\.6\.1-[0-9a-f]{12}", current.linked_to
    )
    assert host.file("/opt/tritonserver/current/bin/tritonserver").mode & 0o111


def test_unit_runs_explicit_model_control_with_a_stop_timeout_above_tritons():
    host = node("nano-1")
    unit = host.file(f"/etc/systemd/system/{SERVICE}.service").content_string
    for flag in (
        "--model-repository=/var/lib/tritonserver/models",
        "--backend-directory=/opt/tritonserver/current/backends",
        "--model-control-mode=explicit",
        "--http-port=8000",
        "--grpc-port=8001",
        "--metrics-port=8002",
        "--exit-timeout-secs=30",
        "Restart=on-failure",
    ):
        assert flag in unit, flag
    # 15 s above Triton's own exit timeout, so that systemd does not kill it while it drains requests
    assert host.check_output(f"systemctl show -p TimeoutStopUSec --value {SERVICE}") == "45s"
    assert "--load-model=digits" in host.file("/etc/tritonserver/models.env").content_string


@pytest.mark.parametrize("name", NANOS)
def test_health_ready_and_model_ready_from_the_controller(name, clients):
    client = clients[name]
    assert client.is_server_live() and client.is_server_ready()
    assert client.server_metadata()["name"] == "triton"
    entries = [entry for entry in client.repository_index() if entry["name"] == MODEL]
    assert [(entry["version"], entry["state"]) for entry in entries] == [("1", "READY")]
    assert client.is_model_ready(MODEL)


@pytest.mark.parametrize("name", NANOS)
def test_predictions_are_correct(name, clients, samples):
    report = triton_digits.classification_test(clients[name], samples, MODEL, min_accuracy=0.9)
    assert report["images"] == len(samples) >= 400
    assert report["passed"] and report["accuracy"] >= 0.9, report
    # the same held-out image gives the same answer on both nodes' Triton
    prediction = triton_digits.classify(samples[0]["image"], client=clients[name])
    assert prediction["label"] == samples[0]["label"], prediction
    assert abs(sum(prediction["probabilities"]) - 1.0) < 1e-3


# The module against a live server


@pytest.mark.destructive
def test_unload_and_load_cycle_through_the_module(clients, samples):
    client = clients["nano-1"]
    args = {"name": MODEL, "state": "unloaded"}
    planned = run_module("nano-1", "edgefaas.platform.triton_model", args, check=True)
    assert (planned.get("failed", False), planned["changed"], planned["state"]) == (False, True, "READY"), planned
    assert client.is_model_ready(MODEL)
    unloaded = run_module("nano-1", "edgefaas.platform.triton_model", args)
    assert (unloaded["changed"], unloaded["state"], unloaded["versions"]) == (True, "UNAVAILABLE", []), unloaded
    assert not client.is_model_ready(MODEL)
    with pytest.raises(TritonError):
        triton_digits.classify(samples[0]["image"], client=client)
    assert run_module("nano-1", "edgefaas.platform.triton_model", args)["changed"] is False

    args = {"name": MODEL, "versions": ["1"]}
    assert run_module("nano-1", "edgefaas.platform.triton_model", args, check=True)["changed"] is True
    assert not client.is_model_ready(MODEL)
    loaded = run_module("nano-1", "edgefaas.platform.triton_model", args)
    assert (loaded["changed"], loaded["state"], loaded["versions"]) == (True, "READY", ["1"]), loaded
    assert run_module("nano-1", "edgefaas.platform.triton_model", args)["changed"] is False
    assert triton_digits.classify(samples[0]["image"], client=client)["label"] == samples[0]["label"]


@pytest.mark.destructive
def test_changed_model_is_reloaded_through_the_api_without_a_restart(restore_lab_models, clients, samples):
    host, client = node("nano-1"), clients["nano-1"]
    pid = main_pid(host)
    assert client.model_config(MODEL)["max_batch_size"] == 64
    config = (DIGITS_DIR / "config.pbtxt").read_text().replace("max_batch_size: 64", "max_batch_size: 16")
    rc, output = run_triton_stage("nano-1", {"triton_models": [dict(DIGITS_ENTRY, config=config)]})
    assert rc == 0, output[-3000:]
    assert changed_counts(output).get("nano-1", 0) >= 2, output[-3000:]  # the file and the reload
    assert client.model_config(MODEL)["max_batch_size"] == 16
    assert main_pid(host) == pid  # the server was not restarted
    assert triton_digits.classification_test(client, samples[:100], MODEL, min_accuracy=0.9)["passed"]


def model_states(client):
    """READY for a model with any version READY, else the state of its last index entry: the index also
    lists versions unloaded earlier (UNAVAILABLE, "unloaded"), such as a removed stray version."""
    states = {}
    for entry in client.repository_index():
        if states.get(entry["name"]) != "READY":
            states[entry["name"]] = entry.get("state")
    return states


def ready_versions(client):
    return sorted(
        entry["version"]
        for entry in client.repository_index()
        if entry["name"] == MODEL and entry.get("state") == "READY"
    )


REPOSITORY = "/var/lib/tritonserver/models"


@pytest.fixture
def old_version_on_nano_1():
    """digits/2 left on nano-1 by an earlier rollout (a copy of version 1) and served after a restart:
    Triton's default version policy serves the latest version. Removed afterwards whatever happened."""
    host = node("nano-1")
    host.check_output(f"cp -a {REPOSITORY}/{MODEL}/1 {REPOSITORY}/{MODEL}/2")
    host.check_output(f"systemctl restart {SERVICE}")
    yield host
    host.run(f"rm -rf {REPOSITORY}/{MODEL}/2")


@pytest.mark.destructive
def test_an_undeclared_version_directory_is_removed_and_the_declared_version_served(
    restore_lab_models, old_version_on_nano_1, clients, samples
):
    """Fault 6a. Before: every run failed "versions ['2'] READY, not the requested ['1']"."""
    host, client = old_version_on_nano_1, clients["nano-1"]
    wait_ready(client)
    assert ready_versions(client) == ["2"]  # the field situation
    rc, output = run_triton_stage("nano-1")
    assert rc == 0, output[-3000:]
    assert not host.file(f"{REPOSITORY}/{MODEL}/2").exists
    assert ready_versions(client) == ["1"]
    assert triton_digits.classification_test(client, samples[:100], MODEL, min_accuracy=0.9)["passed"]
    rc, output = run_triton_stage("nano-1")
    assert (rc, changed_counts(output).get("nano-1")) == (0, 0), output[-3000:]


@pytest.fixture
def stray_version_7():
    """digits/7 on nano-1, not on the controller; removed afterwards whatever happened."""
    host = node("nano-1")
    host.check_output(f"cp -a {REPOSITORY}/{MODEL}/1 {REPOSITORY}/{MODEL}/7")
    yield host
    host.run(f"rm -rf {REPOSITORY}/{MODEL}/7")


@pytest.mark.destructive
def test_without_versions_the_node_holds_the_source_version_directories_check_mode_first(
    restore_lab_models, stray_version_7, clients
):
    """Fault 6a, versions not declared: the node's version directories follow the controller's src."""
    host, client = stray_version_7, clients["nano-1"]
    entry = {"name": MODEL, "src": str(DIGITS_DIR)}
    rc, output = run_stage(
        "edgefaas.platform.triton", {"triton_models": [entry]}, limit="nano-1", check=True, diff=True
    )
    assert rc == 0, output[-3000:]
    assert f"{REPOSITORY}/{MODEL}/7" in output, output[-3000:]
    assert changed_counts(output).get("nano-1", 0) >= 2, output[-3000:]  # the removal and the reload it causes
    assert host.file(f"{REPOSITORY}/{MODEL}/7").exists  # check mode changed nothing
    rc, output = run_triton_stage("nano-1", {"triton_models": [entry]})
    assert rc == 0, output[-3000:]
    assert not host.file(f"{REPOSITORY}/{MODEL}/7").exists
    assert ready_versions(client) == ["1"]


@pytest.mark.destructive
def test_a_config_copied_by_a_stopped_run_is_loaded_by_the_next_run(restore_lab_models, clients):
    """Fault 6b. Before: the next run found nothing to copy, reported changed=0, and Triton kept the old config."""
    client = clients["nano-1"]
    assert client.model_config(MODEL)["max_batch_size"] == 64
    config = (DIGITS_DIR / "config.pbtxt").read_text().replace("max_batch_size: 64", "max_batch_size: 16")
    # What a run that stopped right after copying leaves: the new file on the node, the old one loaded.
    copied = run_module(
        "nano-1",
        "ansible.builtin.copy",
        {
            "content": config,
            "dest": f"{REPOSITORY}/{MODEL}/config.pbtxt",
            "owner": "root",
            "group": "triton",
            "mode": "0644",
        },
    )
    assert copied["changed"] is True, copied
    assert client.model_config(MODEL)["max_batch_size"] == 64
    rc, output = run_triton_stage("nano-1", {"triton_models": [dict(DIGITS_ENTRY, config=config)]})
    assert rc == 0, output[-3000:]
    assert changed_counts(output).get("nano-1", 0) >= 1, output[-3000:]
    assert client.model_config(MODEL)["max_batch_size"] == 16


@pytest.mark.destructive
def test_lab_configuration_is_back_after_the_reload(clients):
    assert clients["nano-1"].model_config(MODEL)["max_batch_size"] == 64


@pytest.fixture
def broken_model(tmp_path):
    """A model whose configuration names a backend that does not exist; removed from nano-1 afterwards."""
    model = tmp_path / "broken"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text("# never loaded\n")
    (model / "config.pbtxt").write_text(
        'backend: "no_such_backend"\nmax_batch_size: 0\n'
        'input [ { name: "X", data_type: TYPE_FP32, dims: [ 1 ] } ]\n'
        'output [ { name: "Y", data_type: TYPE_FP32, dims: [ 1 ] } ]\n'
    )
    yield {"name": "broken", "src": str(model)}
    node("nano-1").check_output("rm -rf /var/lib/tritonserver/models/broken")


@pytest.mark.destructive
def test_broken_model_is_reported_precisely_while_the_others_serve(broken_model, restore_lab_models, clients, samples):
    rc, output = run_triton_stage("nano-1", {"triton_models": [DIGITS_ENTRY, broken_model]})
    assert rc != 0, output[-3000:]
    assert "model 'broken' failed to load" in output, output[-3000:]
    assert "unable to find backend library for backend 'no_such_backend'" in output, output[-3000:]
    client = clients["nano-1"]
    assert client.is_server_ready() and client.is_model_ready(MODEL)
    assert model_states(client) == {MODEL: "READY", "broken": "UNAVAILABLE"}
    report = triton_digits.classification_test(client, samples[:100], MODEL, min_accuracy=0.9)
    assert report["passed"], report


@pytest.mark.destructive
def test_restart_brings_the_models_back_ready(clients, samples):
    host = node("nano-1")
    before = main_pid(host)
    host.check_output(f"systemctl restart {SERVICE}")
    client = clients["nano-1"]
    wait_ready(client)
    assert main_pid(host) != before
    assert [entry.get("state") for entry in client.repository_index() if entry["name"] == MODEL] == ["READY"]
    report = triton_digits.classification_test(client, samples[:100], MODEL, min_accuracy=0.9)
    assert report["passed"], report


# Bad input: refused before anything changes on the node


def assert_refused_without_change(output, rc, message):
    assert rc != 0, output[-3000:]
    assert message in output, output[-3000:]
    assert changed_counts(output).get("nano-2") == 0, output[-3000:]


def test_model_directory_without_config_is_refused_before_any_change(tmp_path):
    model = tmp_path / "noconfig"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text("# no config.pbtxt beside me\n")
    rc, output = run_triton_stage("nano-2", {"triton_models": [DIGITS_ENTRY, {"name": "noconfig", "src": str(model)}]})
    assert_refused_without_change(output, rc, f"model 'noconfig': {model} has no config.pbtxt")
    assert not node("nano-2").file("/var/lib/tritonserver/models/noconfig").exists


@pytest.fixture
def artifact_for_another_jetpack(tmp_path):
    other = tmp_path / "tritonserver2.51.0-jetpack5.1.2.tgz"
    other.symlink_to(ARTIFACT.resolve())
    return other


def test_tarball_for_another_jetpack_is_refused_naming_both(artifact_for_another_jetpack):
    sha256 = Path(f"{ARTIFACT}.sha256").read_text().split()[0]
    extra = {"triton_artifact_src": str(artifact_for_another_jetpack), "triton_artifact_sha256": sha256}
    rc, output = run_triton_stage("nano-2", extra)
    assert_refused_without_change(
        output,
        rc,
        "refusing tritonserver2.51.0-jetpack5.1.2.tgz: it is built for JetPack 5.1.2, "
        "but this board runs JetPack 4.6.1 (L4T 32.7.1)",
    )


def test_checksum_mismatch_leaves_the_installed_triton_untouched():
    host = node("nano-2")
    before = (host.file("/opt/tritonserver/current").linked_to, main_pid(host))
    rc, output = run_triton_stage("nano-2", {"triton_artifact_sha256": "0" * 64, "triton_artifact_sha256_file": ""})
    assert_refused_without_change(output, rc, f"expected {'0' * 64}. Nothing was installed")
    assert (host.file("/opt/tritonserver/current").linked_to, main_pid(host)) == before


@pytest.fixture
def port_8000_taken():
    """nano-2's Triton stopped and its HTTP port held by another server; all restored afterwards."""
    host = node("nano-2")
    host.check_output(f"systemctl stop {SERVICE}")
    host.check_output("systemd-run --unit edgefaas-test-port-8000 python3 -m http.server 8000 --bind 0.0.0.0")
    yield
    host.run("systemctl stop edgefaas-test-port-8000")
    host.check_output(f"systemctl reset-failed {SERVICE} || true")
    host.check_output(f"systemctl restart {SERVICE}")


@pytest.mark.destructive
def test_port_in_use_fails_quoting_tritons_log(port_8000_taken, clients):
    rc, output = run_triton_stage("nano-2", {"triton_ready_timeout": 20})
    assert rc != 0, output[-3000:]
    assert "nano-2: Triton (tritonserver) is not ready at http://127.0.0.1:8000 after 20 s" in output, output[-3000:]
    assert re.search(r"Its log says: .*already in use", output), output[-3000:]


@pytest.mark.destructive
def test_nano_2_serves_again_after_the_port_is_free(clients):
    wait_ready(clients["nano-2"])


HOSTILE_VALUE = 'a "b" \\c 100% $HOME'


@pytest.mark.destructive
def test_environment_values_reach_triton_unchanged(restore_lab_models, clients):
    """Quotes, backslashes, % and $ in triton_environment stay one literal value in the unit."""
    host = node("nano-2")
    rc, output = run_triton_stage("nano-2", {"triton_environment": {"EDGEFAAS_TEST_VALUE": HOSTILE_VALUE}})
    assert rc == 0, output[-3000:]
    wait_ready(clients["nano-2"])
    environ = host.check_output(f"tr '\\0' '\\n' < /proc/{main_pid(host)}/environ")
    assert f"EDGEFAAS_TEST_VALUE={HOSTILE_VALUE}" in environ.splitlines(), environ


# The two seed test cases (classification; server and model health) from two different hosts


@pytest.fixture(scope="module")
def test_case_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("triton-test-cases")
    for source in TEST_CASE_FILES:
        shutil.copy(source, directory / source.name)
    shutil.copy(SAMPLES, directory / "digits-samples.json")
    return directory


@pytest.fixture(scope="module")
def sonic_test_case_dir(test_case_files):
    """The test-case files on sonic-1, as a pod's ConfigMap would mount them."""
    sonic = node("sonic-1")
    target = "/tmp/edgefaas-triton-test"
    sonic.check_output(f"rm -rf {target} && mkdir -p {target}")
    for source in sorted(test_case_files.iterdir()):
        result = sonic.ansible(
            "ansible.builtin.copy", f"src={source} dest={target}/{source.name} mode=0644", check=False
        )
        assert not result.get("failed"), result
    yield target
    sonic.run(f"rm -rf {target}")


TEST_CASES = {
    "classify": ["classify", "--samples", "digits-samples.json"],
    "health": ["health"],
}


@pytest.mark.parametrize("case", sorted(TEST_CASES))
def test_seed_test_case_from_the_controller(case, test_case_files, addresses):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    url = f"{addresses['nano-1']}:{HTTP_PORT}"
    proc = subprocess.run(
        [sys.executable, "triton_test_cases.py", "--url", url, *TEST_CASES[case]],
        cwd=test_case_files,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(proc.stdout)
    assert (proc.returncode, report["passed"]) == (0, True), proc.stderr or report
    assert report["test"] == case


@pytest.mark.parametrize("case", sorted(TEST_CASES))
def test_seed_test_case_from_sonic_1(case, sonic_test_case_dir, addresses):
    sonic = node("sonic-1")
    url = f"{addresses['nano-1']}:{HTTP_PORT}"
    arguments = " ".join(TEST_CASES[case])
    result = sonic.run(f"cd {sonic_test_case_dir} && python3 triton_test_cases.py --url {url} {arguments}")
    report = json.loads(result.stdout)
    assert (result.rc, report["passed"]) == (0, True), result.stderr or report
    if case == "health":
        assert report["url"] == f"http://{url}"
    else:
        assert report["images"] >= 400 and report["accuracy"] >= 0.9


# pod mode: rendered and linted only (no K3s in the lab yet)


@pytest.mark.destructive
def test_pod_manifest_is_rendered_for_the_node_and_lints_clean(tmp_path):
    manifest_dir = "/tmp/edgefaas-triton-manifests"
    extra = {
        "triton_mode": "pod",
        "triton_pod_image": "registry.example/edgefaas/tritonserver:2.19.0-l4t-r32.7.1",
        "triton_pod_manifest_dir": manifest_dir,
    }
    rc, output = run_triton_stage("nano-1", extra)
    assert rc == 0, output[-3000:]
    sonic = node("sonic-1")
    text = sonic.file(f"{manifest_dir}/triton-nano-1.yaml").content_string
    sonic.run(f"rm -rf {manifest_dir}")
    rendered = tmp_path / "triton-nano-1.yaml"
    rendered.write_text(text)
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "yamllint"), "--strict", "-c", str(REPO / ".yamllint"), str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
    documents = {document["kind"]: document for document in yaml.safe_load_all(text)}
    assert sorted(documents) == ["Deployment", "Namespace", "Service"]
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "nano-1"}
    container = pod["containers"][0]
    assert container["image"] == extra["triton_pod_image"]
    assert "--model-control-mode=explicit" in container["args"][0]
    assert {port["containerPort"] for port in container["ports"]} == {8000, 8001, 8002}
    assert {volume["name"]: volume.get("hostPath", {}).get("path") for volume in pod["volumes"]} == {
        "models": "/var/lib/tritonserver/models",
        "start-list": "/etc/tritonserver",
        "shm": None,
    }
    service = documents["Service"]
    assert service["spec"]["selector"] == documents["Deployment"]["spec"]["selector"]["matchLabels"]
