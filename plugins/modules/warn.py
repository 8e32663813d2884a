#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: warn
short_description: Show a message as an Ansible warning
version_added: 0.1.0
description:
  - Returns O(msg) as a warning of the task's result, which Ansible prints as C([WARNING]) for the host and keeps in
    the run's warnings, unlike M(ansible.builtin.debug) output, which verbosity and callbacks hide among task output.
  - For conditions an operator must see but that do not stop the run (a setting that keeps an old kernel working,
    a site without the files an air gap needs).
  - Runs on the controller (action plugin) and never contacts or changes the host.
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.attributes.read_only
  - ansible.builtin.action_common_attributes
options:
  msg:
    description: The warning; leading and trailing white space is removed. An empty message is refused.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Warn that the kubelet runs on cgroup v1
  edgefaas.platform.warn:
    msg: "{{ inventory_hostname }} runs cgroup v1: the kubelet starts only with fail-cgroupv1=false"
  when: k3s_cgroup_version == 1
"""

RETURN = r"""
msg:
  description: The warning as shown.
  returned: always
  type: str
  sample: "nano-1 runs cgroup v1: the kubelet starts only with fail-cgroupv1=false"
"""
