# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Attributes shared by the collection's modules: list a fragment before ansible.builtin.action_common_attributes
    so that its descriptions win over the generic ones."""

    DOCUMENTATION = r"""
options: {}
"""

    # Modules that only read the host or a service (device_facts, kernel_module_info, parsec_info, ...).
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  platform:
    platforms: posix
"""
