# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the K3s roles: release checksum files and the labels and taints a node should carry."""

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleFilterError

# Annotations on each Node listing the label keys and taints this collection set, so that what is
# taken out of the inventory is taken off the node, and what others set is left alone.
MANAGED_LABELS = "edgefaas.io/managed-labels"
MANAGED_TAINTS = "edgefaas.io/managed-taints"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def k3s_release_sha256(checksum_text, filename):
    """The sha256 a K3s checksum file (`sha256sum` output) gives for filename; '' when it has none."""
    for line in str(checksum_text or "").splitlines():
        match = re.match(r"^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$", line)
        if match and match.group(2).rsplit("/", 1)[-1] == filename:
            return match.group(1).lower()
    return ""


def k3s_release_check(stat_result, checksum_text):
    """A registered `stat` result (sha256) -> {path, expected, actual} against a K3s checksum file."""
    stat = stat_result.get("stat") or {}
    path = stat.get("path") or (stat_result.get("invocation") or {}).get("module_args", {}).get("path", "")
    return {
        "path": path,
        "expected": k3s_release_sha256(checksum_text, path.rsplit("/", 1)[-1]),
        "actual": stat.get("checksum", ""),
    }


def k3s_version_of(version_output):
    """`k3s version v1.37.2+k3s1 (ed9efa5c)` -> `v1.37.2+k3s1`; '' when the text is not K3s's."""
    match = re.search(r"k3s version (v\S+)", str(version_output or ""))
    return match.group(1) if match else ""


def k3s_taint(value):
    """`key=value:Effect` or `key:Effect` -> the Node's taint object; anything else is an error."""
    match = re.match(r"^([A-Za-z0-9./_-]+)(?:=([A-Za-z0-9._-]*))?:([A-Za-z]+)$", str(value).strip())
    if not match or match.group(3) not in TAINT_EFFECTS:
        raise AnsibleFilterError(
            "taint '{0}' is not `key=value:Effect` or `key:Effect` with Effect one of {1}".format(
                value, ", ".join(TAINT_EFFECTS)
            )
        )
    taint = {"key": match.group(1), "effect": match.group(3)}
    if match.group(2) is not None:
        taint["value"] = match.group(2)
    return taint


def k3s_node_labels(labels):
    """A label dict -> K3s's `node-label` list (`key=value`), sorted so the config is stable."""
    return ["{0}={1}".format(key, value) for key, value in sorted((labels or {}).items())]


def _managed(node, annotation):
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(annotation, "")
    return [item for item in raw.split(",") if item]


def _taint_id(taint):
    return "{0}:{1}".format(taint["key"], taint["effect"])


def k3s_node_patch(node, labels, taints):
    """The JSON merge patch that gives node exactly the wanted labels and taints; {} when it has them.

    Labels and taints set earlier by this collection (recorded in the node's annotations) and no
    longer wanted are removed; labels and taints anyone else set are kept.
    """
    if not isinstance(node, dict) or "metadata" not in node:
        raise AnsibleFilterError("k3s_node_patch expects a Node object (kubectl get node -o json)")
    wanted_labels = {str(k): str(v) for k, v in (labels or {}).items()}
    wanted_taints = [k3s_taint(t) for t in taints or []]
    current_labels = node["metadata"].get("labels") or {}
    current_taints = (node.get("spec") or {}).get("taints") or []

    label_patch = {k: v for k, v in wanted_labels.items() if current_labels.get(k) != v}
    for key in _managed(node, MANAGED_LABELS):
        if key not in wanted_labels and key in current_labels:
            label_patch[key] = None

    wanted_ids = {_taint_id(t) for t in wanted_taints}
    dropped = set(_managed(node, MANAGED_TAINTS)) - wanted_ids
    kept = [t for t in current_taints if _taint_id(t) not in wanted_ids and _taint_id(t) not in dropped]
    new_taints = kept + wanted_taints

    patch = {}
    if label_patch:
        patch.setdefault("metadata", {})["labels"] = label_patch
    if _comparable(new_taints) != _comparable(current_taints):
        patch["spec"] = {"taints": new_taints}
    annotations = {
        MANAGED_LABELS: ",".join(sorted(wanted_labels)),
        MANAGED_TAINTS: ",".join(sorted(wanted_ids)),
    }
    for key, value in annotations.items():
        if ((node["metadata"].get("annotations") or {}).get(key) or "") != value:
            patch.setdefault("metadata", {}).setdefault("annotations", {})[key] = value
    return patch


def _comparable(taints):
    """Taints without the timeAdded the API server stamps on NoExecute ones, in a stable order."""
    return sorted(json.dumps({k: v for k, v in t.items() if k != "timeAdded"}, sort_keys=True) for t in taints)


class FilterModule:
    def filters(self):
        return {
            "k3s_release_sha256": k3s_release_sha256,
            "k3s_release_check": k3s_release_check,
            "k3s_version_of": k3s_version_of,
            "k3s_taint": k3s_taint,
            "k3s_node_labels": k3s_node_labels,
            "k3s_node_patch": k3s_node_patch,
        }
