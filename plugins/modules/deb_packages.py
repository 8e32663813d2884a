#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deb_packages
short_description: Install Debian packages with apt-get, on any Python (no python-apt)
version_added: 0.1.0
description:
  - Installs the packages named that are not installed yet, with C(apt-get install --no-upgrade);
    installed ones are left at their version.
  - Refreshes the package index first when asked and when it is older than O(cache_valid_time).
  - Drives C(apt-get) and C(dpkg-query) and needs no Python bindings, so it works where
    M(ansible.builtin.apt) cannot, for example on a Jetson Nano (L4T R32, Ubuntu 18.04) whose Ansible runs
    with a bootstrapped python3.8 while C(python3-apt) exists for the system Python 3.6 only.
  - Refreshing the index is not a change of the host (it is a cache); C(changed) means packages were installed.
author:
  - EdgeFaaS platform developers (@edgefaas)
attributes:
  check_mode:
    support: full
    description:
      - Reports the packages C(apt-get -s install) would unpack, dependencies included, and installs nothing.
      - Leaves the index as it is; when the index cannot resolve a package the report names the requested
        packages that are not installed, with a warning.
  diff_mode:
    support: full
    description: Shows each requested package with its version (or C(not installed)) before and after.
options:
  name:
    description:
      - The packages that must be installed (Debian package names, optionally C(name:arch)).
      - May be empty, to refresh the index only.
    type: list
    elements: str
    default: []
  state:
    description: V(present) installs the packages that are missing.
    type: str
    choices: [present]
    default: present
  update_cache:
    description: Refresh the package index (C(apt-get update)) before installing, when it is older than O(cache_valid_time).
    type: bool
    default: false
  cache_valid_time:
    description:
      - Seconds for which a refreshed index counts as fresh; with V(0) O(update_cache=true) refreshes on every run.
      - A value above V(0) implies O(update_cache=true).
      - The index's age is the newer of C(/var/lib/apt/periodic/update-success-stamp) and C(/var/lib/apt/lists).
    type: int
    default: 0
  install_recommends:
    description: V(true) installs recommended packages too, V(false) does not; unset, apt's configuration decides.
    type: bool
  lock_timeout:
    description: Seconds to wait for the dpkg lock (held by unattended-upgrades, say) before failing; apt older than 1.9.11 does not wait.
    type: int
    default: 120
notes:
  - Needs root (C(become=true)) to refresh the index or install.
seealso:
  - module: ansible.builtin.apt
"""

EXAMPLES = r"""
- name: Install the Python backend's libraries, refreshing an index older than a day
  edgefaas.platform.deb_packages:
    name: [libpython3.11, python3-numpy]
    update_cache: true
    cache_valid_time: 86400
  become: true

- name: Refresh the package index only when it is older than a day
  edgefaas.platform.deb_packages:
    cache_valid_time: 86400
  become: true
"""

RETURN = r"""
installed:
  description: The packages installed by this run (or that would be, in check mode), dependencies included, as C(name=version).
  returned: always
  type: list
  elements: str
  sample: ["libpython3.11=3.11.2-6+deb12u6", "python3-numpy=1:1.24.2-1+deb12u1"]
packages:
  description:
    - Each requested package and its installed version after the run; empty when not installed.
    - In check mode the version it would have, or C((to be installed)) when the index does not know the package yet.
  returned: always
  type: dict
  sample: {libpython3.11: 3.11.2-6+deb12u6, python3-numpy: "1:1.24.2-1+deb12u1"}
cache_updated:
  description: Whether this run refreshed the package index.
  returned: always
  type: bool
  sample: true
cache_update_time:
  description: When the index was last refreshed, in seconds since the epoch (V(0) when never).
  returned: always
  type: int
  sample: 1764534000
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgefaas.platform.plugins.module_utils.deb_packages import (
    APT_ENVIRONMENT,
    Apt,
    AptError,
    IndexPaths,
    describe,
    index_is_stale,
    index_time,
    invalid_names,
)

# Where the index lives; unit tests point it at temporary files.
INDEX = IndexPaths()

ARGUMENT_SPEC = {
    "name": {"type": "list", "elements": "str", "default": []},
    "state": {"type": "str", "choices": ["present"], "default": "present"},
    "update_cache": {"type": "bool", "default": False},
    "cache_valid_time": {"type": "int", "default": 0},
    "install_recommends": {"type": "bool"},
    "lock_timeout": {"type": "int", "default": 120},
}


def refresh_index(module, apt):
    """Refreshes a stale index (never in check mode); True when it did."""
    params = module.params
    wanted = params["update_cache"] or params["cache_valid_time"] > 0
    if not wanted or not index_is_stale(INDEX, params["cache_valid_time"]) or module.check_mode:
        return False
    apt.refresh_index(INDEX)
    return True


def plan(module, apt, missing):
    """What installing the missing packages would unpack, as [(name, version)]."""
    if not missing:
        return []
    try:
        return apt.plan_install(missing)
    except AptError as error:
        if not module.check_mode:
            raise
        # Check mode leaves a stale index alone, so it may not know the packages yet.
        module.warn(f"{error} Check mode reports the requested packages only.")
        return [(name, "") for name in missing]


def ensure_present(module, apt):
    names = list(dict.fromkeys(module.params["name"]))
    cache_updated = refresh_index(module, apt)
    before = apt.installed_versions(names)
    missing = [name for name in names if not before[name]]
    planned = plan(module, apt, missing)
    if module.check_mode:
        after = {**before, **{name: version or "(to be installed)" for name, version in planned if name in before}}
    else:
        if planned:
            apt.install(missing)
            left = apt.plan_install(missing)
            if left:
                raise AptError(f"apt-get install succeeded but would still unpack {left}: run it by hand to see why")
        after = apt.installed_versions(names)
    return {
        "changed": bool(planned),
        "installed": [f"{name}={version}" if version else name for name, version in planned],
        "packages": after,
        "cache_updated": cache_updated,
        "cache_update_time": int(index_time(INDEX)),
        "diff": {"before": describe(before), "after": describe(after)},
    }


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    bad = invalid_names(module.params["name"])
    if bad:
        module.fail_json(
            msg=f"name holds what is not a Debian package name: {', '.join(map(repr, bad))}. Package names are "
            "lower-case letters, digits and + - . (Debian Policy 5.6.1), optionally followed by :<architecture>."
        )
    if module.params["cache_valid_time"] < 0 or module.params["lock_timeout"] < 0:
        module.fail_json(msg="cache_valid_time and lock_timeout are seconds: give 0 or more")

    def run(argv):
        return module.run_command(argv, environ_update=APT_ENVIRONMENT)

    apt = Apt(run, module.params["lock_timeout"], module.params["install_recommends"])
    try:
        result = ensure_present(module, apt)
    except AptError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
