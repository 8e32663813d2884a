# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the K3s roles: release checksum files, version skew, tokens, node readiness and labels."""

from __future__ import annotations

import datetime
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


_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+k3s(\d+))?$")


def _version_key(version):
    """`v1.37.2+k3s1` -> (1, 37, 2, is_final, pre-release, k3s revision); an error for other texts."""
    match = _VERSION.match(str(version or "").strip())
    if not match:
        raise AnsibleFilterError(
            "'{0}' is not a K3s release version such as v1.37.2+k3s1 (k3s_version)".format(version)
        )
    major, minor, patch, pre, revision = match.groups()
    return (int(major), int(minor), int(patch), pre is None, pre or "", int(revision or 0))


def k3s_version_skew(installed, wanted):
    """Why moving a node from K3s `installed` to `wanted` breaks Kubernetes' version skew policy; '' when it does not.

    Kubernetes supports no downgrade and upgrades of one minor version at a time (version skew
    policy, https://kubernetes.io/releases/version-skew-policy/, repeated in K3s's upgrade docs).
    An empty `installed` (K3s not installed yet) is never refused. The text names the minor
    versions to go through, e.g. v1.35.4+k3s1 -> v1.37.2+k3s1: "... upgrade to v1.36 first".
    Raises AnsibleFilterError for a text that is not a K3s version.
    """
    if not str(installed or "").strip():
        return ""
    old, new = _version_key(installed), _version_key(wanted)
    if new < old:
        return "{0} -> {1} is a downgrade, which Kubernetes does not support".format(installed, wanted)
    if new[0] != old[0]:
        return "{0} -> {1} changes the major version".format(installed, wanted)
    if new[1] - old[1] > 1:
        steps = ["v{0}.{1}".format(old[0], minor) for minor in range(old[1] + 1, new[1])]
        return "{0} -> {1} skips minor versions: upgrade to {2} first".format(installed, wanted, ", then ".join(steps))
    return ""


def k3s_token_secret(token):
    """The secret of a K3s token: `K10<ca-hash>::<user>:<secret>` -> `<secret>`; a bare secret as is; '' for none.

    K3s writes `<data-dir>/server/token` as `K10<ca hash>::server:<secret>` and `server/agent-token`
    as `K10<ca hash>::node:<secret>` (reference k3s-sonic-jetson.md, "Tokens").
    """
    text = str(token or "").strip()
    if text.startswith("K10") and "::" in text:
        return text.split("::", 1)[1].partition(":")[2]
    return text


def _k8s_time(text):
    """RFC 3339 as the API writes it (`2026-11-30T20:37:43Z`) or systemd's UTC timestamp
    (`Mon 2026-11-30 20:37:43 UTC`) -> aware datetime; None for anything else (e.g. `n/a`, '')."""
    match = re.search(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?(Z| UTC|[+-]00:?00)?\b", str(text or ""))
    if not match or not match.group(3):
        return None
    return datetime.datetime.strptime(match.group(1) + " " + match.group(2), "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=datetime.timezone.utc
    )


def k3s_node_ready_since(node, started):
    """Whether a Node (kubectl get node -o json) is Ready with a heartbeat from after `started`.

    `started` is when the node's K3s service started, as systemd prints ExecMainStartTimestamp in
    UTC (`Mon 2026-11-30 20:37:43 UTC`). A Ready condition whose lastHeartbeatTime predates it
    was posted by an earlier run of the agent (or another machine of the same name): it proves
    nothing about this one. The API keeps whole seconds, so a heartbeat in the start's second counts.
    An unreadable `started` raises AnsibleFilterError.
    """
    since = _k8s_time(started)
    if since is None:
        raise AnsibleFilterError("'{0}' is not a systemd UTC timestamp (ExecMainStartTimestamp)".format(started))
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            heartbeat = _k8s_time(condition.get("lastHeartbeatTime"))
            return heartbeat is not None and heartbeat >= since
    return False


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
            "k3s_version_skew": k3s_version_skew,
            "k3s_token_secret": k3s_token_secret,
            "k3s_node_ready_since": k3s_node_ready_since,
            "k3s_taint": k3s_taint,
            "k3s_node_labels": k3s_node_labels,
            "k3s_node_patch": k3s_node_patch,
        }
