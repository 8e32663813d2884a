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


class FilterModule:
    def filters(self):
        return {
            "triton_wanted_paths": triton_wanted_paths,
            "triton_stray_paths": triton_stray_paths,
            "triton_log_errors": triton_log_errors,
        }
