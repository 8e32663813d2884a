"""Unit tests of triton_model and its module_utils, against a fake Triton that answers like Triton 2.51."""

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils import triton, triton_digits
from ansible_collections.edgefaas.platform.plugins.modules import triton_model

DIGITS_CONFIG = {
    "name": "digits",
    "backend": "python",
    "max_batch_size": 64,
    "input": [{"name": "IMAGE", "data_type": "TYPE_FP32", "dims": [8, 8], "optional": False}],
    "instance_group": [{"name": "digits_0", "kind": "KIND_CPU", "count": 1}],
}
BAD_BACKEND_REASON = "Invalid argument: unable to find backend library for backend 'onnx'"


class FakeTriton:
    """Triton's repository API as observed on 2.51 (explicit mode); unloads pass through UNLOADING."""

    def __init__(self):
        self.configs = {"digits": copy.deepcopy(DIGITS_CONFIG), "broken": {"backend": "onnx"}}
        self.states = {}  # name -> index entry fields of version 1
        self.requests = []
        self.polls_while_unloading = {}

    def index(self):
        entries = []
        for name in sorted(self.configs):
            state = self.states.get(name)
            if state and state["state"] == "UNLOADING":
                self._advance_unload(name, state)
            entries.append(dict({"name": name}, **({"version": "1", **state} if state else {})))
        return entries

    def _advance_unload(self, name, state):
        # Triton unloads asynchronously: the index shows UNLOADING for a while.
        self.polls_while_unloading[name] = self.polls_while_unloading.get(name, 0) + 1
        if self.polls_while_unloading[name] > 2:
            self.states[name] = {"state": "UNAVAILABLE", "reason": "unloaded"}

    def load(self, name, body):
        if name not in self.configs:
            return 500, {"error": f"failed to load '{name}', failed to poll from model repository"}
        config = self.configs[name]
        override = body.get("parameters", {}).get("config")
        if override is not None:
            config = json.loads(override)
        if config.get("backend") != "python":
            if self.states.get(name, {}).get("state") != "READY":  # a failed reload keeps serving
                self.states[name] = {"state": "UNAVAILABLE", "reason": BAD_BACKEND_REASON}
            return 400, {
                "error": f"load failed for model '{name}': version 1 is at UNAVAILABLE state: {BAD_BACKEND_REASON};\n"
            }
        self.configs[name] = dict(copy.deepcopy(DIGITS_CONFIG), **config)
        self.states[name] = {"state": "READY"}
        return 200, None

    def unload(self, name):
        if self.states.get(name, {}).get("state") == "READY":
            self.states[name] = {"state": "UNLOADING"}
        return 200, None

    def answer(self, method, path, body):
        self.requests.append((method, path))
        parts = path.strip("/").split("/")
        if (method, path) == ("POST", "/v2/repository/index"):
            return 200, self.index()
        if method == "POST" and parts[:3] == ["v2", "repository", "models"]:
            return self.load(parts[3], body) if parts[4] == "load" else self.unload(parts[3])
        if method == "GET" and parts[:2] == ["v2", "models"] and parts[-1] == "config":
            if self.states.get(parts[2], {}).get("state") != "READY":
                return 404, {"error": f"Request for unknown model: '{parts[2]}' is not found"}
            return 200, self.configs[parts[2]]
        return 404, {"error": "Not Found"}

    def modifying_requests(self):
        return [request for request in self.requests if request[1].endswith(("/load", "/unload"))]


@pytest.fixture
def fake():
    fake_triton = FakeTriton()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, document = fake_triton.answer(self.command, self.path, body)
            payload = b"" if document is None else json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake_triton.url = f"127.0.0.1:{server.server_address[1]}"
    yield fake_triton
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch):
    """Triton needs seconds to settle an unload; the fake settles at once."""
    monkeypatch.setattr(triton, "SETTLE_POLL_SECONDS", 0.01)


# Module behaviour


def test_loads_a_model_that_is_not_loaded(fake, run_module):
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "versions": ["1"]})
    assert not result["failed"], result
    assert result["changed"] is True
    assert (result["state"], result["versions"], result["reason"]) == ("READY", ["1"], "")
    assert fake.modifying_requests() == [("POST", "/v2/repository/models/digits/load")]
    assert result["diff"]["before"]["state"] == "UNAVAILABLE"


def test_ready_model_is_left_alone(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "versions": ["1"]})
    assert (result["changed"], result["state"]) == (False, "READY")
    assert fake.modifying_requests() == []


def test_check_mode_reports_a_load_without_loading(fake, run_module):
    result = run_module(triton_model, {"name": "digits", "url": fake.url}, check_mode=True)
    assert result["changed"] is True
    assert result["state"] == "UNAVAILABLE"
    assert fake.modifying_requests() == []


def test_reload_loads_a_ready_model_again(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "reload": True})
    assert result["changed"] is True
    assert fake.modifying_requests() == [("POST", "/v2/repository/models/digits/load")]


def test_missing_model_fails_naming_the_repository_models(fake, run_module):
    result = run_module(triton_model, {"name": "resnet", "url": fake.url})
    assert result["failed"]
    assert result["msg"].startswith(
        f"model 'resnet' not found in the model repository of the Triton server at http://{fake.url}"
    )
    assert "(it holds: broken, digits)" in result["msg"]
    assert fake.modifying_requests() == []


def test_bad_configuration_fails_with_tritons_reason(fake, run_module):
    result = run_module(triton_model, {"name": "broken", "url": fake.url})
    assert result["failed"]
    assert BAD_BACKEND_REASON in result["msg"]
    assert (result["state"], result["versions"], result["reason"]) == ("UNAVAILABLE", [], BAD_BACKEND_REASON)


def test_failed_reload_says_the_old_versions_keep_serving(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "config": {"backend": "onnx"}})
    assert result["failed"]
    assert "Triton keeps serving the versions loaded before (1)" in result["msg"]
    assert result["state"] == "READY"


def test_config_override_that_differs_reloads_and_shows_a_diff(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    result = run_module(
        triton_model, {"name": "digits", "url": fake.url, "config": {"backend": "python", "max_batch_size": 8}}
    )
    assert result["changed"] is True
    assert result["diff"]["before"]["config"] == {"backend": "python", "max_batch_size": 64}
    assert result["diff"]["after"]["config"] == {"backend": "python", "max_batch_size": 8}
    sent = [path for method, path in fake.modifying_requests()]
    assert sent == ["/v2/repository/models/digits/load"]
    assert fake.configs["digits"]["max_batch_size"] == 8


def test_config_override_already_loaded_is_no_change(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    wanted = {"backend": "python", "max_batch_size": "64", "input": [{"name": "IMAGE", "dims": [8, 8]}]}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "config": wanted})
    assert result["changed"] is False, result.get("diff")


def test_versions_that_do_not_become_ready_fail(fake, run_module):
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "versions": ["1", "2"]})
    assert result["failed"]
    assert "versions ['1'] READY, not the requested ['1', '2']" in result["msg"]


def test_unload_waits_until_triton_has_unloaded(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "state": "unloaded"})
    assert result["changed"] is True
    assert (result["state"], result["versions"], result["reason"]) == ("UNAVAILABLE", [], "unloaded")


def test_unload_of_absent_or_unloaded_models_changes_nothing(fake, run_module):
    fake.states["digits"] = {"state": "UNAVAILABLE", "reason": "unloaded"}
    for name in ("digits", "resnet"):
        result = run_module(triton_model, {"name": name, "url": fake.url, "state": "unloaded"})
        assert (result["failed"], result["changed"]) == (False, False)
    assert fake.modifying_requests() == []


def test_check_mode_unload_does_not_unload(fake, run_module):
    fake.states["digits"] = {"state": "READY"}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "state": "unloaded"}, check_mode=True)
    assert (result["changed"], result["state"]) == (True, "READY")
    assert fake.modifying_requests() == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"state": "unloaded", "config": {"backend": "python"}}, "config only apply to state=loaded"),
        ({"state": "unloaded", "reload": True}, "reload only apply to state=loaded"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"url": "http://localhost:8000"}, "url takes host:port without a scheme"),
    ],
)
def test_bad_arguments_are_refused(fake, args, message, run_module):
    result = run_module(triton_model, dict({"name": "digits", "url": fake.url}, **args))
    assert result["failed"]
    assert message in result["msg"]
    assert fake.requests == []


def test_unreachable_server_is_reported(run_module):
    result = run_module(triton_model, {"name": "digits", "url": "127.0.0.1:9", "timeout": 2})
    assert result["failed"]
    assert result["msg"].startswith("cannot reach Triton at http://127.0.0.1:9")


# module_utils pieces


@pytest.mark.parametrize(
    "desired, current, matches",
    [
        ({"max_batch_size": 8}, {"max_batch_size": 8, "backend": "python"}, True),
        ({"dims": ["8", "8"]}, {"dims": [8, 8]}, True),
        ({"dims": [8, 8]}, {"dims": [8, 8, 1]}, False),
        ({"instance_group": [{"kind": "KIND_CPU"}]}, {"instance_group": [{"kind": "KIND_GPU", "count": 1}]}, False),
        ({"optional": False}, {"optional": 0}, False),
        ({"parameters": {"key": {"string_value": "x"}}}, {"parameters": {}}, False),
    ],
)
def test_config_matches(desired, current, matches):
    assert triton.config_matches(desired, current) is matches


def test_config_projection_keeps_only_the_compared_keys():
    current = {"max_batch_size": 64, "input": [{"name": "IMAGE", "dims": [8, 8], "format": "FORMAT_NONE"}]}
    desired = {"max_batch_size": 8, "input": [{"dims": [8, 8]}]}
    assert triton.config_projection(current, desired) == {"max_batch_size": 64, "input": [{"dims": [8, 8]}]}


def test_index_summaries():
    entries = [
        {"name": "m", "version": "10", "state": "READY"},
        {"name": "m", "version": "2", "state": "READY"},
        {"name": "m", "version": "3", "state": "UNAVAILABLE", "reason": "bad file"},
    ]
    assert triton.ready_versions(entries) == ["2", "10"]
    assert triton.model_state(entries) == "READY"
    assert triton.unavailable_reason(entries) == "bad file"
    assert (triton.model_state([{"name": "m"}]), triton.unavailable_reason([{"name": "m"}])) == (
        "UNAVAILABLE",
        "not loaded",
    )


DIGITS_METADATA = {"name": "digits", "inputs": [{"name": "IMAGE", "datatype": "FP32", "shape": [-1, 8, 8]}]}


def test_request_inputs_accept_any_batch_size():
    tensors = triton.request_inputs(DIGITS_METADATA, {"IMAGE": ([2, 8, 8], [0.0] * 128)})
    assert tensors == [{"name": "IMAGE", "shape": [2, 8, 8], "datatype": "FP32", "data": [0.0] * 128}]


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"IMAGE": ([1, 64], [0.0] * 64)}, "model 'digits' input 'IMAGE' expects shape [-1, 8, 8], given [1, 64]"),
        ({"IMAGE": ([1, 8, 9], [0.0] * 72)}, "model 'digits' input 'IMAGE' expects shape [-1, 8, 8], given [1, 8, 9]"),
        ({"IMAGE": ([1, 8, 8], [0.0] * 63)}, "input 'IMAGE' of shape [1, 8, 8] needs 64 values, given 63"),
        ({"PIXELS": ([1, 8, 8], [0.0] * 64)}, "model 'digits' takes inputs ['IMAGE']; given ['PIXELS']"),
    ],
)
def test_request_inputs_name_expected_and_given(inputs, message):
    with pytest.raises(triton.ShapeError) as caught:
        triton.request_inputs(DIGITS_METADATA, inputs)
    assert str(caught.value) == message


def test_preprocess_keeps_digits_layout():
    image = [[(row + column) % 17 for column in range(8)] for row in range(8)]
    assert triton_digits.preprocess(image) == [[float(value) for value in row] for row in image]


def test_preprocess_turns_a_32x32_bitmap_into_block_counts():
    bitmap = [[1 if column < 4 else 0 for column in range(32)] for _row in range(32)]
    result = triton_digits.preprocess(bitmap, value_range=1)
    assert result[0][0] == pytest.approx(16.0)
    assert result[7][1] == pytest.approx(0.0)


def test_preprocess_rescales_8_bit_images():
    assert triton_digits.preprocess([[255] * 8] * 8, value_range=255)[3][3] == pytest.approx(16.0)


@pytest.mark.parametrize(
    "image, message",
    [
        ([[0] * 7] * 8, "given 8x7"),
        ([[0] * 8] * 7 + [[0] * 5], "row 0 has 8 values, row 7 has 5"),
        ([], "given an empty one"),
    ],
)
def test_preprocess_names_the_wrong_shape(image, message):
    with pytest.raises(triton.ShapeError) as caught:
        triton_digits.preprocess(image)
    assert message in str(caught.value)


def test_preprocess_refuses_values_out_of_range():
    with pytest.raises(ValueError, match=r"pixel values must lie in 0\.\.16, found 0\.0\.\.255\.0"):
        triton_digits.preprocess([[0] * 8] * 7 + [[255] * 8])


# Reload decided from observed state: the files Triton loaded (recorded) against the files there now


@pytest.fixture
def model_dir(tmp_path):
    directory = tmp_path / "models" / "digits"
    (directory / "1").mkdir(parents=True)
    (directory / "1" / "model.py").write_text("weights = 1\n")
    (directory / "config.pbtxt").write_text('backend: "python"\nmax_batch_size: 64\n')
    return directory


def recorded_args(fake, model_dir, **extra):
    record = model_dir.parent.parent / "loaded" / "digits.json"
    return dict({"name": "digits", "url": fake.url, "model_dir": str(model_dir), "record": str(record)}, **extra)


def test_first_load_records_the_files_then_nothing_changes(fake, model_dir, run_module):
    args = recorded_args(fake, model_dir, versions=["1"])
    first = run_module(triton_model, args)
    assert (first["failed"], first["changed"]) == (False, True), first
    record = json.loads(Path(args["record"]).read_text())
    assert record == {
        "name": "digits",
        "digest": triton.model_digest(str(model_dir)),
        "versions": ["1"],
        "config": None,
    }
    second = run_module(triton_model, args)
    assert (second["changed"], second["load_reasons"]) == (False, [])
    assert len(fake.modifying_requests()) == 1


def test_files_copied_by_a_stopped_run_are_loaded_by_the_next(fake, model_dir, run_module):
    """Fault 6b: config.pbtxt changed on the node, the run stopped before loading; Triton serves the old one."""
    args = recorded_args(fake, model_dir, versions=["1"])
    run_module(triton_model, args)
    (model_dir / "config.pbtxt").write_text('backend: "python"\nmax_batch_size: 16\n')
    result = run_module(triton_model, args)
    assert result["changed"] is True
    assert result["load_reasons"] == [f"the files in {model_dir} differ from those loaded last"]
    assert result["diff"]["before"]["files_digest"] != result["diff"]["after"]["files_digest"]
    assert fake.modifying_requests() == [("POST", "/v2/repository/models/digits/load")] * 2
    assert run_module(triton_model, args)["changed"] is False


def test_a_removed_version_directory_reloads(fake, model_dir, run_module):
    (model_dir / "2").mkdir()
    (model_dir / "2" / "model.py").write_text("weights = 2\n")
    args = recorded_args(fake, model_dir)
    run_module(triton_model, args)
    (model_dir / "2" / "model.py").unlink()
    (model_dir / "2").rmdir()
    assert run_module(triton_model, args)["changed"] is True


def test_ready_model_without_a_record_is_loaded_once(fake, model_dir, run_module):
    fake.states["digits"] = {"state": "READY"}
    args = recorded_args(fake, model_dir)
    result = run_module(triton_model, args)
    assert result["changed"] is True
    assert result["load_reasons"] == [f"no record of the files loaded from {model_dir} ({args['record']})"]


def test_check_mode_writes_no_record(fake, model_dir, run_module):
    args = recorded_args(fake, model_dir)
    result = run_module(triton_model, args, check_mode=True)
    assert result["changed"] is True
    assert fake.modifying_requests() == []
    assert not (model_dir.parent.parent / "loaded").exists()


def test_failed_load_keeps_the_old_record(fake, model_dir, run_module):
    args = recorded_args(fake, model_dir)
    run_module(triton_model, args)
    before = Path(args["record"]).read_text()
    (model_dir / "config.pbtxt").write_text('backend: "onnx"\n')
    result = run_module(triton_model, dict(args, config={"backend": "onnx"}))
    assert result["failed"]
    assert Path(args["record"]).read_text() == before


def test_unreadable_record_counts_as_missing(fake, model_dir, run_module):
    args = recorded_args(fake, model_dir)
    run_module(triton_model, args)
    Path(args["record"]).write_text("{not json")
    assert run_module(triton_model, args)["changed"] is True
    assert json.loads(Path(args["record"]).read_text())["digest"] == triton.model_digest(str(model_dir))


def test_missing_model_dir_is_a_clear_error(fake, tmp_path, run_module):
    fake.states["digits"] = {"state": "READY"}
    args = {"name": "digits", "url": fake.url, "model_dir": str(tmp_path / "nope"), "record": str(tmp_path / "r")}
    result = run_module(triton_model, args)
    assert result["failed"]
    assert result["msg"].startswith(f"cannot read the model directory {tmp_path / 'nope'} of model 'digits'")
    assert fake.modifying_requests() == []


def test_model_dir_needs_a_record(fake, model_dir, run_module):
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "model_dir": str(model_dir)})
    assert result["failed"]
    assert "parameters are required together: model_dir, record" in result["msg"]


def test_digest_covers_paths_content_and_links(model_dir):
    digest = triton.model_digest(str(model_dir))
    assert digest == triton.model_digest(str(model_dir))
    (model_dir / "1" / "model.py").write_text("weights = 2\n")
    changed_content = triton.model_digest(str(model_dir))
    assert changed_content != digest
    (model_dir / "3").mkdir()
    empty_version = triton.model_digest(str(model_dir))
    assert empty_version != changed_content
    (model_dir / "3").rmdir()
    (model_dir / "3").symlink_to("1")
    assert triton.model_digest(str(model_dir)) not in (digest, changed_content, empty_version)
    assert ("3", "link", "1") in triton.model_tree(str(model_dir))


def test_digest_of_a_missing_directory_raises(tmp_path):
    with pytest.raises(OSError, match="is not a directory"):
        triton.model_digest(str(tmp_path / "absent"))


def test_versions_compare_in_numeric_order(fake, run_module):
    assert triton.sorted_versions(["10", "2", "2", "x"]) == ["2", "10", "x"]
    fake.states["digits"] = {"state": "READY"}
    result = run_module(triton_model, {"name": "digits", "url": fake.url, "versions": ["1"]})
    assert result["changed"] is False
