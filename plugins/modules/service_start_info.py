#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_start_info
short_description: Tell when a systemd service's main process started and which files changed after that
version_added: 0.1.0
description:
  - Reads the service's C(MainPID) and C(ExecMainStartTimestampMonotonic) from C(systemctl show) and converts the
    start into seconds since the epoch on the host's own clock, to the microsecond.
  - Lists the given paths whose modification time (of the path itself, a link is not followed) is later than that
    start, so that a role can restart a service still running what an earlier, interrupted run replaced.
  - Reads only; never changes the host.
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.attributes.read_only
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The systemd service (unit name, with or without C(.service)).
    type: str
    required: true
  paths:
    description: Paths whose change after the start is looked for; a missing path counts as unchanged.
    type: list
    elements: path
    default: []
notes:
  - C(ExecMainStartTimestampMonotonic) counts on C(CLOCK_MONOTONIC), as Python's C(time.monotonic()) does on Linux
    (systemd's C(systemctl show) documentation and C(clock_gettime(2))); systemd 237 (Ubuntu 18.04, L4T R32) has it.
"""

EXAMPLES = r"""
- name: Find whether Parsec started before its current install
  edgefaas.platform.service_start_info:
    name: parsec
    paths: [/opt/parsec/current]
  register: parsec_start

- name: Restart Parsec when it runs an earlier install
  ansible.builtin.systemd_service:
    name: parsec
    state: restarted
  when: parsec_start.modified_since_start | length > 0
"""

RETURN = r"""
running:
  description: Whether the service has a main process.
  returned: always
  type: bool
  sample: true
main_pid:
  description: The main process's PID; C(0) when the service does not run.
  returned: always
  type: int
  sample: 812
started:
  description: When the main process started, in seconds since the epoch (host clock); C(null) when it does not run.
  returned: always
  type: float
  sample: 1795996800.123456
modified_since_start:
  description:
    - The paths (as given) modified after the start, in the order given.
    - Empty when the service does not run (nothing runs an earlier version of them then).
  returned: always
  type: list
  elements: str
  sample: [/opt/parsec/current]
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

PROPERTIES = ("MainPID", "ExecMainStartTimestampMonotonic")


def parse_show(text):
    """`systemctl show` output (KEY=VALUE lines) -> dict of the PROPERTIES found."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in PROPERTIES:
            found[key] = value.strip()
    return found


def start_epoch(start_monotonic_us, now_epoch, now_monotonic):
    """A CLOCK_MONOTONIC timestamp in microseconds -> seconds since the epoch, given both clocks' now."""
    return now_epoch - (now_monotonic - start_monotonic_us / 1e6)


def modified_after(paths, moment):
    """The paths whose own mtime (lstat) is later than moment (epoch seconds, None: no moment, none of them);
    missing paths are left out."""
    modified = []
    for path in paths if moment is not None else []:
        try:
            if os.lstat(path).st_mtime > moment:
                modified.append(path)
        except FileNotFoundError:
            continue
    return modified


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            paths=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    systemctl = module.get_bin_path("systemctl", required=True)
    argv = [systemctl, "show"] + ["--property=" + prop for prop in PROPERTIES] + ["--", module.params["name"]]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="systemctl show {0} failed: {1}".format(module.params["name"], err.strip() or out.strip()))
    shown = parse_show(out)
    if set(shown) != set(PROPERTIES):
        module.fail_json(
            msg="systemctl show {0} did not report {1}: this systemd is too old for this module".format(
                module.params["name"], " and ".join(PROPERTIES)
            )
        )
    main_pid = int(shown["MainPID"] or 0)
    started = None
    if main_pid > 0:
        started = start_epoch(int(shown["ExecMainStartTimestampMonotonic"]), time.time(), time.monotonic())
    module.exit_json(
        changed=False,
        running=main_pid > 0,
        main_pid=main_pid,
        started=started,
        modified_since_start=modified_after(module.params["paths"], started),
    )


if __name__ == "__main__":
    main()
