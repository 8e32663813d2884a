# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the K3s roles for the kubelet's arguments: what the node's cgroup version needs, merged into config.yaml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.filter.k3s import _version_key

# The file system type `stat -fc %T /sys/fs/cgroup` prints on a cgroup v2 (unified) host; tmpfs
# there means cgroup v1 (legacy or hybrid). The kubelet decides the same way (statfs magic
# CGROUP2_SUPER_MAGIC, runc's libcontainer/cgroups IsCgroup2UnifiedMode).
CGROUP2_FS = "cgroup2fs"
# KEP-5573 (https://github.com/kubernetes/enhancements/issues/5573, kubernetes PR 134298): from
# Kubernetes 1.35 the kubelet refuses to start on cgroup v1 unless its failCgroupV1 setting (flag
# --fail-cgroupv1) is false.
FAIL_CGROUPV1_SINCE = (1, 35)
FAIL_CGROUPV1_OFF = "fail-cgroupv1=false"


def k3s_cgroup_kubelet_args(cgroup_fs, version):
    """The kubelet arguments a node needs for its cgroup version under K3s `version`: a list of `flag=value`.

    cgroup_fs: the type of /sys/fs/cgroup (`stat -fc %T`, e.g. `cgroup2fs` or `tmpfs`).
    version: the K3s release, e.g. `v1.37.2+k3s1`.
    Returns [`fail-cgroupv1=false`] on cgroup v1 with Kubernetes 1.35 or later (KEP-5573), else [].
    Raises AnsibleFilterError for an empty file system type or a text that is not a K3s version.
    """
    fs_type = str(cgroup_fs or "").strip()
    if not fs_type:
        raise AnsibleFilterError("the type of /sys/fs/cgroup is empty: is the cgroup file system mounted?")
    if fs_type == CGROUP2_FS or _version_key(version)[:2] < FAIL_CGROUPV1_SINCE:
        return []
    return [FAIL_CGROUPV1_OFF]


def _kubelet_flag(arg):
    """`fail-cgroupv1=false` or `--fail-cgroupv1=false` -> `fail-cgroupv1`."""
    return str(arg).lstrip("-").split("=", 1)[0]


def k3s_kubelet_args_merge(config, args):
    """K3s config (dict of flags without `--`) with `args` added to its `kubelet-arg` list.

    K3s takes `kubelet-arg` as one string or a list of `flag=value`. An argument whose flag the
    config already sets is not added (the config's own value is kept), so nothing is listed twice.
    Returns the config unchanged when there is nothing to add. Raises AnsibleFilterError when the
    config is not a dict.
    """
    if not isinstance(config, dict):
        raise AnsibleFilterError("a K3s configuration is a dict of flags, not {0}".format(type(config).__name__))
    current = config.get("kubelet-arg")
    current = [] if current is None else list(current) if isinstance(current, (list, tuple)) else [current]
    present = {_kubelet_flag(arg) for arg in current}
    missing = [arg for arg in args or [] if _kubelet_flag(arg) not in present]
    if not missing:
        return config
    return dict(config, **{"kubelet-arg": current + missing})


class FilterModule:
    def filters(self):
        return {
            "k3s_cgroup_kubelet_args": k3s_cgroup_kubelet_args,
            "k3s_kubelet_args_merge": k3s_kubelet_args_merge,
        }
