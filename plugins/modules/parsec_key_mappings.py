#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: parsec_key_mappings
short_description: Count the keys a Parsec key info manager maps, for every client
version_added: 0.1.0
description:
  - Reads the store of one Parsec key info manager (a C(SQLite) database or an C(OnDisk) folder) on the host
    and counts the keys it maps, per provider, for every client of the service.
  - Use it before a change that would point the service at another key info manager, another store, another
    authenticator or another provider name, since such a change orphans every key counted here.
  - Needs read access to the store (the service's user or root). Works whether the service runs or not.
  - Only reads; never changes the store.
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.attributes.read_only
  - ansible.builtin.action_common_attributes
options:
  manager_type:
    description:
      - The key info manager's C(manager_type) in the service's C(config.toml).
    type: str
    choices: [SQLite, OnDisk]
    required: true
  path:
    description:
      - The manager's store, C(sqlite_db_path) for V(SQLite) or C(store_path) for V(OnDisk).
      - A store that does not exist holds no key.
    type: path
    required: true
notes:
  - Store layouts are those of Parsec 1.x (C(src/key_info_managers/) upstream). The service's own internal keys
    in an C(OnDisk) store are not counted.
seealso:
  - module: edgefaas.platform.parsec_info
  - module: edgefaas.platform.parsec_key
"""

EXAMPLES = r"""
- name: Count the keys of the default SQLite key info manager
  edgefaas.platform.parsec_key_mappings:
    manager_type: SQLite
    path: /var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3
  register: parsec_mappings

- name: Stop before orphaning them
  ansible.builtin.assert:
    that: parsec_mappings.count == 0
    fail_msg: "{{ parsec_mappings.count }} key(s) would be orphaned"
"""

RETURN = r"""
count:
  description: Number of keys the store maps, all clients and providers together.
  returned: always
  type: int
  sample: 3
providers:
  description:
    - Number of keys per provider. A C(SQLite) store names providers as configured (C(name) of the
      C([[provider]])); an C(OnDisk) store by type (C(MbedCrypto), C(Pkcs11), C(Tpm)...).
  returned: always
  type: dict
  sample: {mbed-crypto-provider: 2, tpm-provider: 1}
exists:
  description: Whether the store exists on the host.
  returned: always
  type: bool
  sample: true
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec_kim import KimReadError, key_counts


def main():
    module = AnsibleModule(
        argument_spec={
            "manager_type": {"type": "str", "choices": ["SQLite", "OnDisk"], "required": True},
            "path": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        providers = key_counts(module.params["manager_type"], path)
    except KimReadError as error:
        module.fail_json(msg="{}. Check manager_type and path against the service's config.toml.".format(error))
    module.exit_json(changed=False, count=sum(providers.values()), providers=providers, exists=os.path.exists(path))


if __name__ == "__main__":
    main()
