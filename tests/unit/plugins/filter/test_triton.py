"""The triton role's filters: the node's model directory against the declaration, Triton's journal."""

from ansible_collections.edgefaas.platform.plugins.filter import triton

REPOSITORY = "/var/lib/tritonserver/models"
SRC = "/srv/models/digits"


def find_result(root, relatives, item=None):
    result = {"files": [{"path": f"{root}/{relative}"} for relative in relatives]}
    if item is not None:
        result["item"] = item
    return result


def strays(node_relatives, src_relatives, **model):
    entry = dict({"name": "digits", "src": SRC}, **model)
    node = find_result(f"{REPOSITORY}/digits", node_relatives, entry)
    return [item["path"] for item in triton.triton_stray_paths((node, find_result(SRC, src_relatives)), REPOSITORY)]


LAB = ["config.pbtxt", "1", "1/model.py"]


def test_an_old_version_directory_is_stray_whole_when_versions_are_declared():
    """Fault 6a: digits/2 left from an earlier rollout, versions: ["1"]."""
    node = [*LAB, "2", "2/model.py", "2/__pycache__", "2/__pycache__/model.cpython-311.pyc"]
    assert strays(node, [*LAB, "2", "2/model.py"], versions=["1"]) == [f"{REPOSITORY}/digits/2"]
    assert strays(node, [*LAB, "2", "2/model.py"], versions=[1, 2]) == [f"{REPOSITORY}/digits/2/__pycache__"]


def test_without_versions_the_node_follows_the_source_exactly():
    node = [*LAB, "2", "2/model.py", "1/old.onnx", "labels.txt"]
    assert strays(node, LAB) == [
        f"{REPOSITORY}/digits/1/old.onnx",
        f"{REPOSITORY}/digits/2",
        f"{REPOSITORY}/digits/labels.txt",
    ]
    assert strays(LAB, LAB) == []


def test_a_config_given_as_content_is_no_stray():
    assert strays(LAB, ["1", "1/model.py"], config='backend: "python"') == []
    assert strays(LAB, ["1", "1/model.py"]) == [f"{REPOSITORY}/digits/config.pbtxt"]


def test_a_trailing_slash_on_src_or_repository_changes_nothing():
    entry = {"name": "digits", "src": SRC + "/", "versions": ["1"]}
    node = find_result(f"{REPOSITORY}/digits", [*LAB, "2"], entry)
    result = triton.triton_stray_paths((node, find_result(SRC, LAB)), REPOSITORY + "/")
    assert result == [{"model": "digits", "path": f"{REPOSITORY}/digits/2"}]


def test_a_missing_node_directory_has_no_strays():
    node = {
        "files": [],
        "skipped_paths": {f"{REPOSITORY}/digits": "does not exist"},
        "item": {"name": "digits", "src": SRC},
    }
    assert triton.triton_stray_paths((node, find_result(SRC, LAB)), REPOSITORY) == []


JOURNAL = [
    "I1126 16:28:10.100000 3305 server.cc:674] +--------+",
    "E1126 16:28:10.325358 3305 main.cc:257] failed to start HTTP service: Address already in use",
    "W1126 16:28:10.325400 3305 main.cc:258] exiting",
    "E1126 16:28:15.325358 3390 main.cc:257] failed to start HTTP service: Address already in use",
    "E1126 16:28:15.400000 3390 model_lifecycle.cc:641] failed to load 'digits' version 1: Internal: boom",
    "tritonserver.service: Main process exited, code=exited, status=1/FAILURE",
]


def test_log_errors_are_tritons_messages_once_each_latest_last():
    assert triton.triton_log_errors(JOURNAL) == [
        "failed to start HTTP service: Address already in use",
        "failed to load 'digits' version 1: Internal: boom",
    ]
    assert triton.triton_log_errors(JOURNAL, count=1) == ["failed to load 'digits' version 1: Internal: boom"]


def test_log_without_error_lines_gives_its_tail():
    lines = [f"line {number}" for number in range(30)]
    assert triton.triton_log_errors(lines) == lines[-10:]
    assert triton.triton_log_errors(None) == []
