# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the triton role: what a managed model directory on the node holds beyond its declaration,
and Triton's own error lines from its journal."""

from __future__ import annotations

import re

VERSION_DIRECTORY = re.compile(r"^[0-9]+$")
# Triton's log prefix (glog style): severity letter, MMDD, time, thread, file:line], e.g.
# "E1126 16:28:10.325358 3305 main.cc:257] failed to start HTTP service: Address already in use".
TRITON_ERROR_LINE = re.compile(r"^E\d{4} \S+ +\d+ \S+\] (.*)$")


def _relative_paths(find_result, root):
    """Paths of a registered `find` result relative to root ('1', '1/model.py', 'config.pbtxt')."""
    prefix = root.rstrip("/") + "/"
    return {item["path"][len(prefix) :] for item in find_result.get("files", []) if item["path"].startswith(prefix)}


def _declared(relative, versions):
    top = relative.split("/", 1)[0]
    return versions is None or not VERSION_DIRECTORY.match(top) or top in versions


def triton_wanted_paths(src_find, model):
    """The paths (relative to the model's directory) a declared model holds on the node: everything under
    `src` except version directories left out of `versions`, and config.pbtxt when `config` gives it."""
    versions = None if model.get("versions") is None else {str(version) for version in model["versions"]}
    wanted = {relative for relative in _relative_paths(src_find, model["src"]) if _declared(relative, versions)}
    if model.get("config") is not None:
        wanted.add("config.pbtxt")
    return wanted


def triton_stray_paths(trees, repository):
    """What a managed model's directory on the node holds beyond its declaration: [{model, path}], outermost
    paths only, sorted (a stray version directory such as '2' left by an earlier rollout goes whole).

    trees: (node, controller): a registered recursive `find` of <repository>/<name> on the node and one of
    the model's `src` on the controller, both from loops over triton_models (their `item` is the entry:
    name, src, optional versions and config).
    """
    node, controller = trees
    model = node["item"]
    model_dir = repository.rstrip("/") + "/" + model["name"]
    stray = _relative_paths(node, model_dir) - triton_wanted_paths(controller, model)
    outermost = [path for path in stray if not any(path.startswith(other + "/") for other in stray)]
    return [{"model": model["name"], "path": model_dir + "/" + path} for path in sorted(outermost)]


def triton_log_errors(lines, count=4, tail=10):
    """Triton's error messages from its journal (`journalctl --output cat` lines): each distinct message once,
    without time and thread, the latest `count`, oldest first; the last `tail` lines when there is none."""
    lines = [str(line) for line in lines or []]
    messages = [match.group(1) for match in map(TRITON_ERROR_LINE.match, lines) if match]
    distinct = list(reversed(list(dict.fromkeys(reversed(messages)))))
    return distinct[-count:] if distinct else lines[-tail:]


MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def triton_model_problems(models):
    """What the argument spec of triton_models cannot say: [message] (empty when every entry is usable).

    The spec checks each entry's keys, types and `state` choices; this checks the name (a plain directory
    name), an empty src, versions that are no numeric version directories, and names given twice.
    """
    problems = []
    for model in models:
        name = model.get("name")
        if not MODEL_NAME.match(str(name or "")) or name in (".", ".."):
            problems.append(
                f"triton_models entry {name!r}: name must be the model's directory name in the repository "
                "(letters, digits, '_', '.', '-')"
            )
        if not str(model.get("src") or "").strip():
            problems.append(f"model {name!r}: src is empty; give the model's directory on the controller")
        versions = model.get("versions")
        if isinstance(versions, (str, bytes)) or (versions is not None and not isinstance(versions, list)):
            problems.append(f"model {name!r}: versions must be a list of version directories, such as ['1']")
        elif versions is not None:
            bad = [str(version) for version in versions if not VERSION_DIRECTORY.match(str(version))]
            if bad:
                problems.append(
                    f"model {name!r}: versions {', '.join(bad)} are no numeric version directories (such as '1')"
                )
    names = [model.get("name") for model in models]
    twice = sorted({str(name) for name in names if names.count(name) > 1})
    if twice:
        problems.append(f"triton_models names a model twice: {', '.join(twice)}")
    return problems


def triton_model_source_problems(find_result):
    """What keeps a model's src on the controller from loading: [message]. find_result: a registered
    non-recursive `find` of the entry's src (file_type any), from a loop over triton_models."""
    model = find_result["item"]
    src = model["src"]
    if find_result.get("skipped_paths"):
        return [f"{src} is not a directory on the controller"]
    entries = {item["path"].rstrip("/").rsplit("/", 1)[-1]: item for item in find_result.get("files", [])}
    found = {name for name, item in entries.items() if item.get("isdir") and VERSION_DIRECTORY.match(name)}
    problems = []
    if model.get("config") is None and "config.pbtxt" not in entries:
        problems.append(
            f"{src} has no config.pbtxt and the entry gives no config: Triton cannot load a model without its "
            f"configuration; add {src}/config.pbtxt or set config (the content of config.pbtxt)"
        )
    if not found:
        problems.append(f"{src} has no numeric version directory (such as 1/ holding the model file)")
    missing = [str(version) for version in model.get("versions") or [] if str(version) not in found]
    if missing:
        problems.append(f"versions {', '.join(missing)} are declared but {src} has no such directory")
    return problems


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def triton_artifact_problems(choice):
    """Why the chosen Triton tarball does not fit the node: [message], each naming the remedy.

    choice: {location, name (the tarball's file name), device (edgefaas_device), board_jetpack, board_line
    (the board's JetPack and its major.minor), sha256, sha256_file, tarball_jetpack (the JetPack the tarball
    is built for, '' when unknown), releases (triton_jetpack_releases)}.
    """
    device = choice["device"]
    is_jetson = device.get("type") == "jetson"
    board = f"JetPack {choice['board_jetpack']} (L4T {(device.get('jetson') or {}).get('l4t_release', '?')})"
    tarball, releases = choice["name"], choice["releases"]
    if not choice["location"]:
        if is_jetson:
            return [
                f"no Triton release tarball is known for {board} (triton_jetpack_releases lists JetPack "
                f"{', '.join(sorted(releases))}): set triton_artifact_src (a tarball on the controller) or "
                "triton_artifact_url, with its sha256"
            ]
        return [
            f"this host is no Jetson (device type '{device.get('type')}'), so no JetPack tarball fits it by default: "
            "set triton_artifact_src or triton_artifact_url to a Triton tarball built for it, with its sha256"
        ]
    problems = []
    if not SHA256.match(choice["sha256"]):
        note = f" ({choice['sha256_file']} is missing or holds no sha256)" if choice["sha256_file"] else ""
        problems.append(
            f"{tarball} needs its sha256: set triton_artifact_sha256 (64 hex digits) or triton_artifact_sha256_file"
            f"{note}. NVIDIA publishes no checksums for its Jetson tarballs: take the sha256 of a copy you trust"
        )
    if is_jetson and not choice["tarball_jetpack"]:
        problems.append(
            f"cannot tell which JetPack {tarball} is built for (its name holds no 'jetpack<version>'): "
            "set triton_artifact_jetpack"
        )
    tarball_line = ".".join(choice["tarball_jetpack"].split(".")[:2])
    if is_jetson and choice["tarball_jetpack"] and tarball_line != choice["board_line"]:
        fitting = (releases.get(choice["board_line"]) or {}).get("tarball", "")
        problems.append(
            f"refusing {tarball}: it is built for JetPack {choice['tarball_jetpack']}, but this board runs {board}. "
            f"Use a Triton tarball for JetPack {choice['board_line']}.x{f' ({fitting})' if fitting else ''}. "
            "Nothing was changed"
        )
    return problems


class FilterModule:
    def filters(self):
        return {
            "triton_wanted_paths": triton_wanted_paths,
            "triton_stray_paths": triton_stray_paths,
            "triton_artifact_problems": triton_artifact_problems,
            "triton_log_errors": triton_log_errors,
            "triton_model_problems": triton_model_problems,
            "triton_model_source_problems": triton_model_source_problems,
        }
