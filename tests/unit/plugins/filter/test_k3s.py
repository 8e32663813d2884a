"""The K3s filters: checksum files as K3s publishes them, version strings, node label/taint patches."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.filter import k3s

SUMS = (
    "6a6a0e0d2bd7f8a1b9c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4  k3s\n"
    "1111111111111111111111111111111111111111111111111111111111111111  k3s-airgap-images-amd64.tar.zst\n"
    "2222222222222222222222222222222222222222222222222222222222222222 *e2e-v1.37.2+k3s1.log\n"
)


def node(labels=None, taints=None, annotations=None):
    return {
        "metadata": {"name": "nano-1", "labels": labels or {}, "annotations": annotations or {}},
        "spec": {"taints": taints} if taints is not None else {},
    }


def test_release_sha256_finds_the_file_and_nothing_else():
    assert k3s.k3s_release_sha256(SUMS, "k3s").startswith("6a6a0e0d")
    assert k3s.k3s_release_sha256(SUMS, "k3s-airgap-images-amd64.tar.zst") == "1" * 64
    assert k3s.k3s_release_sha256(SUMS, "e2e-v1.37.2+k3s1.log") == "2" * 64
    # k3s must not match k3s-arm64 or a prefix of another name
    assert k3s.k3s_release_sha256(SUMS, "k3s-arm64") == ""
    assert k3s.k3s_release_sha256("", "k3s") == ""
    assert k3s.k3s_release_sha256("not a checksum  k3s", "k3s") == ""


def test_release_check_compares_a_stat_result_with_the_checksum_file():
    good = {"stat": {"exists": True, "path": "/airgap/k3s", "checksum": k3s.k3s_release_sha256(SUMS, "k3s")}}
    assert k3s.k3s_release_check(good, SUMS)["expected"] == good["stat"]["checksum"]
    bad = {"stat": {"exists": True, "path": "/airgap/k3s", "checksum": "0" * 64}}
    result = k3s.k3s_release_check(bad, SUMS)
    assert result["expected"] != result["actual"]
    assert result["path"] == "/airgap/k3s"
    unlisted = {"stat": {"exists": True, "path": "/airgap/k3s-arm64", "checksum": "0" * 64}}
    assert k3s.k3s_release_check(unlisted, SUMS)["expected"] == ""


def test_version_of_reads_k3s_output():
    assert k3s.k3s_version_of("k3s version v1.37.2+k3s1 (ed9efa5c)\ngo version go1.26.8") == "v1.37.2+k3s1"
    assert k3s.k3s_version_of("bash: k3s: command not found") == ""


@pytest.mark.parametrize(
    ("text", "taint"),
    [
        ("gpu=true:NoSchedule", {"key": "gpu", "value": "true", "effect": "NoSchedule"}),
        ("edgefaas.io/switch:NoExecute", {"key": "edgefaas.io/switch", "effect": "NoExecute"}),
        ("a=:PreferNoSchedule", {"key": "a", "value": "", "effect": "PreferNoSchedule"}),
    ],
)
def test_taint_parses_kubectl_syntax(text, taint):
    assert k3s.k3s_taint(text) == taint


@pytest.mark.parametrize("text", ["gpu=true", "gpu=true:Never", "=x:NoSchedule", "a b:NoSchedule"])
def test_taint_refuses_bad_syntax_and_names_it(text):
    with pytest.raises(AnsibleFilterError, match="is not `key=value:Effect`"):
        k3s.k3s_taint(text)


def test_node_labels_are_sorted_key_value_strings():
    assert k3s.k3s_node_labels({"b": "2", "a": 1}) == ["a=1", "b=2"]
    assert k3s.k3s_node_labels(None) == []


def test_patch_adds_missing_labels_and_records_them():
    patch = k3s.k3s_node_patch(node({"kubernetes.io/os": "linux"}), {"edgefaas.io/role": "agent"}, [])
    assert patch["metadata"]["labels"] == {"edgefaas.io/role": "agent"}
    # an empty list of managed taints is the same as no annotation
    assert patch["metadata"]["annotations"] == {k3s.MANAGED_LABELS: "edgefaas.io/role"}
    assert "spec" not in patch


def test_patch_is_empty_when_the_node_is_as_wanted():
    current = node(
        {"edgefaas.io/role": "agent", "other": "x"},
        [{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
        {k3s.MANAGED_LABELS: "edgefaas.io/role", k3s.MANAGED_TAINTS: "gpu:NoSchedule"},
    )
    assert k3s.k3s_node_patch(current, {"edgefaas.io/role": "agent"}, ["gpu=true:NoSchedule"]) == {}


def test_patch_removes_only_labels_and_taints_it_managed():
    current = node(
        {"edgefaas.io/role": "agent", "team": "a", "theirs": "y"},
        [
            {"key": "gpu", "value": "true", "effect": "NoSchedule"},
            {"key": "theirs", "effect": "NoSchedule"},
        ],
        {k3s.MANAGED_LABELS: "edgefaas.io/role,team", k3s.MANAGED_TAINTS: "gpu:NoSchedule"},
    )
    patch = k3s.k3s_node_patch(current, {"edgefaas.io/role": "agent"}, [])
    assert patch["metadata"]["labels"] == {"team": None}
    assert patch["spec"]["taints"] == [{"key": "theirs", "effect": "NoSchedule"}]
    assert patch["metadata"]["annotations"] == {k3s.MANAGED_LABELS: "edgefaas.io/role", k3s.MANAGED_TAINTS: ""}


def test_patch_replaces_a_taint_whose_value_changed_and_ignores_time_added():
    current = node(
        {},
        [
            {"key": "gpu", "value": "false", "effect": "NoSchedule"},
            {"key": "drain", "effect": "NoExecute", "timeAdded": "2026-11-26T10:00:00Z"},
        ],
        {k3s.MANAGED_LABELS: "", k3s.MANAGED_TAINTS: "gpu:NoSchedule,drain:NoExecute"},
    )
    patch = k3s.k3s_node_patch(current, {}, ["drain:NoExecute", "gpu=true:NoSchedule"])
    assert sorted(t["key"] + "=" + t.get("value", "") for t in patch["spec"]["taints"]) == ["drain=", "gpu=true"]
    unchanged = node(
        {},
        [{"key": "drain", "effect": "NoExecute", "timeAdded": "2026-11-26T10:00:00Z"}],
        {k3s.MANAGED_LABELS: "", k3s.MANAGED_TAINTS: "drain:NoExecute"},
    )
    assert k3s.k3s_node_patch(unchanged, {}, ["drain:NoExecute"]) == {}


def test_patch_refuses_something_that_is_not_a_node():
    with pytest.raises(AnsibleFilterError, match="expects a Node object"):
        k3s.k3s_node_patch("nano-1", {}, [])


@pytest.mark.parametrize(
    ("installed", "wanted"),
    [
        ("", "v1.37.2+k3s1"),  # a fresh node
        ("v1.37.2+k3s1", "v1.37.2+k3s1"),
        ("v1.37.2+k3s1", "v1.37.2+k3s2"),
        ("v1.37.2+k3s2", "v1.37.3+k3s1"),
        ("v1.36.9+k3s1", "v1.37.0+k3s1"),
        ("v1.37.0-rc1+k3s1", "v1.37.0+k3s1"),
    ],
)
def test_version_skew_lets_patch_and_next_minor_upgrades_pass(installed, wanted):
    assert k3s.k3s_version_skew(installed, wanted) == ""


@pytest.mark.parametrize(
    ("installed", "wanted", "message"),
    [
        ("v1.37.2+k3s2", "v1.37.2+k3s1", "v1.37.2+k3s2 -> v1.37.2+k3s1 is a downgrade"),
        ("v1.37.2+k3s1", "v1.36.9+k3s1", "is a downgrade"),
        ("v1.37.0+k3s1", "v1.37.0-rc1+k3s1", "is a downgrade"),
        ("v1.35.4+k3s1", "v1.37.2+k3s1", "v1.35.4+k3s1 -> v1.37.2+k3s1 skips minor versions: upgrade to v1.36 first"),
        ("v1.34.1+k3s1", "v1.37.2+k3s1", "upgrade to v1.35, then v1.36 first"),
        ("v1.37.2+k3s1", "v2.0.0+k3s1", "changes the major version"),
    ],
)
def test_version_skew_refuses_downgrades_and_skipped_minors(installed, wanted, message):
    assert message in k3s.k3s_version_skew(installed, wanted)


def test_version_skew_rejects_text_that_is_no_version():
    with pytest.raises(AnsibleFilterError, match="'latest' is not a K3s release version"):
        k3s.k3s_version_skew("v1.37.2+k3s1", "latest")


def test_token_secret_reads_k3s_token_files():
    assert k3s.k3s_token_secret("K10" + "a" * 64 + "::server:s3cr3t\n") == "s3cr3t"
    assert k3s.k3s_token_secret("K10" + "a" * 64 + "::node:ag:ent") == "ag:ent"
    assert k3s.k3s_token_secret("bare-secret\n") == "bare-secret"
    assert k3s.k3s_token_secret("") == ""


def ready_node(status, heartbeat):
    return {"status": {"conditions": [{"type": "Ready", "status": status, "lastHeartbeatTime": heartbeat}]}}


def test_node_ready_since_needs_a_heartbeat_from_this_start():
    started = "Mon 2026-11-30 20:37:43 UTC"
    assert k3s.k3s_node_ready_since(ready_node("True", "2026-11-30T20:37:50Z"), started)
    assert k3s.k3s_node_ready_since(ready_node("True", "2026-11-30T20:37:43Z"), started)  # same second
    # Ready, but posted by the agent that ran before (a reflashed node's old registration)
    assert not k3s.k3s_node_ready_since(ready_node("True", "2026-11-30T20:30:00Z"), started)
    assert not k3s.k3s_node_ready_since(ready_node("Unknown", "2026-11-30T20:40:00Z"), started)
    assert not k3s.k3s_node_ready_since({"status": {}}, started)
    assert not k3s.k3s_node_ready_since(ready_node("True", None), started)


def test_node_ready_since_refuses_an_unreadable_start():
    with pytest.raises(AnsibleFilterError, match="'n/a' is not a systemd UTC timestamp"):
        k3s.k3s_node_ready_since(ready_node("True", "2026-11-30T20:37:50Z"), "n/a")
