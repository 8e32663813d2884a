"""The triton role's filters: the node's model directory against the declaration, Triton's journal."""

import pytest

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


# Model entries and their directories on the controller (what the argument spec cannot check)


def test_usable_entries_have_no_problems():
    models = [{"name": "digits", "src": SRC, "versions": ["1", 2]}, {"name": "yolo.v8", "src": "/srv/yolo"}]
    assert triton.triton_model_problems(models) == []


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "a/b", "src": SRC}, "triton_models entry 'a/b': name must be the model's directory name"),
        ({"name": "..", "src": SRC}, "triton_models entry '..': name must be"),
        ({"name": "m", "src": " "}, "model 'm': src is empty; give the model's directory on the controller"),
        ({"name": "m", "src": SRC, "versions": "1"}, "model 'm': versions must be a list of version directories"),
        (
            {"name": "m", "src": SRC, "versions": ["1", "v2"]},
            "model 'm': versions v2 are no numeric version directories",
        ),
    ],
)
def test_entry_problems_name_the_entry_and_the_remedy(entry, message):
    problems = triton.triton_model_problems([entry])
    assert len(problems) == 1 and problems[0].startswith(message), problems


def test_a_name_given_twice_is_a_problem():
    models = [{"name": "m", "src": SRC}, {"name": "m", "src": "/other"}]
    assert triton.triton_model_problems(models) == ["triton_models names a model twice: m"]


def source(entries, **model):
    files = [{"path": f"{SRC}/{name}", "isdir": isdir} for name, isdir in entries]
    return {"files": files, "item": dict({"name": "digits", "src": SRC}, **model)}


def test_a_usable_source_has_no_problems():
    assert triton.triton_model_source_problems(source([("config.pbtxt", False), ("1", True)], versions=[1])) == []
    assert triton.triton_model_source_problems(source([("1", True)], config="backend: 'python'")) == []


@pytest.mark.parametrize(
    "entries, model, message",
    [
        ([("1", True)], {}, f"{SRC} has no config.pbtxt and the entry gives no config"),
        ([("config.pbtxt", False), ("1", False), ("v2", True)], {}, f"{SRC} has no numeric version directory"),
        ([("config.pbtxt", False), ("1", True)], {"versions": ["1", "3"]}, "versions 3 are declared but"),
    ],
)
def test_source_problems(entries, model, message):
    assert triton.triton_model_source_problems(source(entries, **model))[0].startswith(message)


def test_a_missing_source_is_named():
    result = {"files": [], "skipped_paths": {SRC: "not a directory"}, "item": {"name": "digits", "src": SRC}}
    assert triton.triton_model_source_problems(result) == [f"{SRC} is not a directory on the controller"]


# The tarball against the board

NANO = {"type": "jetson", "jetson": {"jetpack": "4.6.1", "l4t_release": "32.7.1"}}
RELEASES = {"4.6": {"tarball": "tritonserver2.19.0-jetpack4.6.1.tgz"}}


def choice(**changes):
    base = {
        "location": "/srv/tritonserver2.19.0-jetpack4.6.1.tgz",
        "name": "tritonserver2.19.0-jetpack4.6.1.tgz",
        "device": NANO,
        "board_jetpack": "4.6.1",
        "board_line": "4.6",
        "sha256": "a" * 64,
        "sha256_file": "",
        "tarball_jetpack": "4.6.1",
        "releases": RELEASES,
    }
    return dict(base, **changes)


def test_a_fitting_tarball_has_no_problems():
    assert triton.triton_artifact_problems(choice()) == []


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"location": "", "board_jetpack": "5.1.2", "board_line": "5.1"},
            "no Triton release tarball is known for JetPack 5.1.2 (L4T 32.7.1) (triton_jetpack_releases lists JetPack 4.6)",
        ),
        ({"location": "", "device": {"type": "debian"}}, "this host is no Jetson (device type 'debian')"),
        ({"sha256": "xyz"}, "tritonserver2.19.0-jetpack4.6.1.tgz needs its sha256"),
        ({"sha256": "", "sha256_file": "/srv/SUMS"}, "(/srv/SUMS is missing or holds no sha256)"),
        ({"tarball_jetpack": ""}, "cannot tell which JetPack tritonserver2.19.0-jetpack4.6.1.tgz is built for"),
        (
            {"name": "t-jetpack5.1.2.tgz", "tarball_jetpack": "5.1.2"},
            "refusing t-jetpack5.1.2.tgz: it is built for JetPack 5.1.2, but this board runs JetPack 4.6.1 (L4T 32.7.1)."
            " Use a Triton tarball for JetPack 4.6.x (tritonserver2.19.0-jetpack4.6.1.tgz). Nothing was changed",
        ),
    ],
)
def test_artifact_problems_name_the_remedy(changes, message):
    problems = triton.triton_artifact_problems(choice(**changes))
    assert any(message in problem for problem in problems), problems


def test_a_tarball_for_another_host_needs_no_jetpack():
    other = choice(device={"type": "debian"}, tarball_jetpack="", board_jetpack="", board_line="")
    assert triton.triton_artifact_problems(other) == []
