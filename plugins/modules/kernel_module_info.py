#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_module_info
short_description: Find where kernel modules come from on a host (loaded, built in or loadable)
version_added: 0.1.0
description:
  - For each module named, tells whether the running kernel has it loaded (C(/proc/modules), C(/sys/module)),
    built in (C(modules.builtin), or C(CONFIG_<SYMBOL>=y) in C(/proc/config.gz) or C(/boot/config-<release>))
    or loadable (a C(.ko), C(.ko.xz), C(.ko.gz) or C(.ko.zst) file under C(/lib/modules/<release>)).
  - Module names treat C(-) and C(_) alike, as kmod does.
  - Reads files only; loads nothing and never changes the host.
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.attributes.read_only
  - ansible.builtin.action_common_attributes
options:
  names:
    description: The kernel modules to look for.
    type: list
    elements: str
    required: true
  config_symbols:
    description:
      - Kernel config symbol of each module (C(xt_multiport) is C(CONFIG_NETFILTER_XT_MATCH_MULTIPORT)).
      - A module is also found when its symbol is C(y) in the kernel's config, for kernels without C(modules.builtin).
    type: dict
    default: {}
  kernel_release:
    description: The kernel whose modules are looked for in C(/lib/modules); the running one when not set.
    type: str
"""

EXAMPLES = r"""
- name: Find the kernel modules K3s needs
  edgefaas.platform.kernel_module_info:
    names: [br_netfilter, overlay, xt_multiport]
    config_symbols:
      xt_multiport: CONFIG_NETFILTER_XT_MATCH_MULTIPORT
  register: k3s_modules

- name: Every one is there
  ansible.builtin.assert:
    that: k3s_modules.missing | length == 0
    fail_msg: "Missing from kernel {{ k3s_modules.kernel_release }}: {{ k3s_modules.missing | join(', ') }}"
"""

RETURN = r"""
kernel_release:
  description: The kernel looked at.
  returned: always
  type: str
  sample: 4.9.253-tegra
modules:
  description: Every requested module (as named) and where it was found, in words; an empty string when nowhere.
  returned: always
  type: dict
  sample:
    br_netfilter: loaded (/proc/modules)
    overlay: built in (modules.builtin)
    xt_multiport: loadable (/lib/modules/4.9.253-tegra/kernel/net/netfilter/xt_multiport.ko)
    vxlan: ""
missing:
  description: The requested modules found nowhere, in the order requested.
  returned: always
  type: list
  elements: str
  sample: [vxlan]
kernel_config:
  description: The kernel configuration read (C(/proc/config.gz) or C(/boot/config-<release>)); empty when none is readable.
  returned: always
  type: str
  sample: /proc/config.gz
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgefaas.platform.plugins.module_utils.kernel_modules import KernelRoots, locate_modules

# The directories read; unit tests point them at temporary trees.
ROOTS = KernelRoots()


def main():
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "config_symbols": {"type": "dict", "default": {}},
            "kernel_release": {"type": "str"},
        },
        supports_check_mode=True,
    )
    names = module.params["names"]
    blank = [name for name in names if not name.strip()]
    if blank:
        module.fail_json(msg="names holds an empty module name: remove it or name a kernel module")
    release = module.params["kernel_release"]
    if release is not None and (not release.strip() or "/" in release or release in (".", "..")):
        module.fail_json(msg=f"kernel_release {release!r} is not a kernel release: give one as `uname -r` prints it")
    symbols = {str(key): str(value) for key, value in module.params["config_symbols"].items()}
    found = locate_modules(names, symbols, release, ROOTS)
    module.exit_json(changed=False, **found)


if __name__ == "__main__":
    main()
