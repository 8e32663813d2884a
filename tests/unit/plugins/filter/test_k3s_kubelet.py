"""The kubelet-argument filters: what a node's cgroup version needs under a K3s version, merged into config.yaml."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.filter import k3s_kubelet

OFF = "fail-cgroupv1=false"


@pytest.mark.parametrize(
    ("cgroup_fs", "version", "expected"),
    [
        ("tmpfs", "v1.37.2+k3s1", [OFF]),  # v1 (hybrid or legacy) with the default release
        ("tmpfs", "v1.35.0+k3s1", [OFF]),  # the first minor that refuses cgroup v1
        ("tmpfs", "v1.35.0-rc1+k3s1", [OFF]),
        ("tmpfs", "v1.34.6+k3s1", []),  # older pins stay as they were
        ("tmpfs", "v1.30.14+k3s2", []),
        ("cgroup2fs", "v1.37.2+k3s1", []),
        ("cgroup2fs\n", "v1.34.6+k3s1", []),
        ("cgroupfs", "v1.36.1+k3s1", [OFF]),  # anything but cgroup2fs is v1, as the kubelet decides
    ],
)
def test_cgroup_kubelet_args_need_fail_cgroupv1_off_on_v1_from_1_35(cgroup_fs, version, expected):
    assert k3s_kubelet.k3s_cgroup_kubelet_args(cgroup_fs, version) == expected


@pytest.mark.parametrize(("cgroup_fs", "version"), [("", "v1.37.2+k3s1"), ("tmpfs", "latest"), ("tmpfs", "")])
def test_cgroup_kubelet_args_refuse_what_they_cannot_read(cgroup_fs, version):
    with pytest.raises(AnsibleFilterError):
        k3s_kubelet.k3s_cgroup_kubelet_args(cgroup_fs, version)


def test_merge_adds_to_the_users_kubelet_args_and_keeps_the_rest():
    config = {"node-name": "nano-1", "kubelet-arg": ["max-pods=50"]}
    merged = k3s_kubelet.k3s_kubelet_args_merge(config, [OFF])
    assert merged == {"node-name": "nano-1", "kubelet-arg": ["max-pods=50", OFF]}
    assert config["kubelet-arg"] == ["max-pods=50"]  # the input is not changed


def test_merge_creates_the_list_and_takes_a_single_string():
    assert k3s_kubelet.k3s_kubelet_args_merge({}, [OFF]) == {"kubelet-arg": [OFF]}
    assert k3s_kubelet.k3s_kubelet_args_merge({"kubelet-arg": "max-pods=50"}, [OFF]) == {
        "kubelet-arg": ["max-pods=50", OFF]
    }


@pytest.mark.parametrize("own", [OFF, "fail-cgroupv1=true", "--fail-cgroupv1=false"])
def test_merge_never_lists_a_flag_twice_and_keeps_the_users_value(own):
    config = {"kubelet-arg": [own]}
    assert k3s_kubelet.k3s_kubelet_args_merge(config, [OFF]) == config


def test_merge_without_arguments_leaves_the_config_alone():
    config = {"node-name": "sonic-1"}
    assert k3s_kubelet.k3s_kubelet_args_merge(config, []) is config


def test_merge_refuses_a_config_that_is_not_a_dict():
    with pytest.raises(AnsibleFilterError, match="dict of flags"):
        k3s_kubelet.k3s_kubelet_args_merge(["kubelet-arg"], [OFF])
