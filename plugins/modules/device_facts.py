#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: device_facts
short_description: Detect what kind of edge device a host is (SONiC switch, NVIDIA Jetson, plain Debian or Ubuntu)
version_added: 0.1.0
description:
  - Reads the identity files of the host and returns them as the fact C(edgefaas_device).
  - A SONiC switch is recognised by C(/etc/sonic/sonic_version.yml), a Jetson by C(/etc/nv_tegra_release)
    (its L4T release is mapped to the JetPack line), anything else by C(/etc/os-release).
  - Reads files only; never changes the host.
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.attributes.read_only
  - ansible.builtin.action_common_attributes
attributes:
  facts:
    support: full
    description: Returns the fact C(edgefaas_device).
options: {}
"""

EXAMPLES = r"""
- name: Learn what each edge host is
  edgefaas.platform.device_facts:

- name: Only on Jetsons
  ansible.builtin.debug:
    msg: "JetPack {{ edgefaas_device.jetson.jetpack }}"
  when: edgefaas_device.type == 'jetson'
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to the host's facts.
  returned: always
  type: dict
  contains:
    edgefaas_device:
      description: What the host is.
      returned: always
      type: dict
      contains:
        type:
          description: C(sonic), C(jetson), C(debian), C(ubuntu), or the os-release ID of anything else.
          type: str
          sample: sonic
        os_id:
          description: The ID from C(/etc/os-release).
          type: str
          sample: debian
        os_version:
          description: The VERSION_ID from C(/etc/os-release).
          type: str
          sample: "12"
        os_pretty_name:
          description: The PRETTY_NAME from C(/etc/os-release).
          type: str
          sample: Debian GNU/Linux 12 (bookworm)
        sonic:
          description: The fields of C(/etc/sonic/sonic_version.yml); empty unless the host is a SONiC switch.
          type: dict
          sample: {build_version: SONiC.202311.1, asic_type: broadcom, debian_version: "12.5"}
        jetson:
          description: L4T release, board and JetPack line from C(/etc/nv_tegra_release); empty unless a Jetson.
          type: dict
          sample: {l4t_release: "32.7.1", board: t210ref, eabi: aarch64, jetpack: "4.6.1", model: ""}
"""

import re

from ansible.module_utils.basic import AnsibleModule

SONIC_VERSION_FILE = "/etc/sonic/sonic_version.yml"
TEGRA_RELEASE_FILE = "/etc/nv_tegra_release"
OS_RELEASE_FILE = "/etc/os-release"
DEVICE_TREE_MODEL = "/proc/device-tree/model"

# L4T release -> JetPack, from NVIDIA's release notes; a release not listed maps to its line.
JETPACK_BY_L4T = {
    "32.4.3": "4.4",
    "32.4.4": "4.4.1",
    "32.5.0": "4.5",
    "32.5.1": "4.5.1",
    "32.5.2": "4.5.1",
    "32.6.1": "4.6",
    "32.7.1": "4.6.1",
    "32.7.2": "4.6.2",
    "32.7.3": "4.6.3",
    "32.7.4": "4.6.4",
    "32.7.5": "4.6.5",
    "32.7.6": "4.6.6",
    "35.4.1": "5.1.2",
    "35.5.0": "5.1.3",
    "36.3.0": "6.0",
    "36.4.0": "6.1",
}
JETPACK_LINE_BY_L4T_MAJOR = {"32": "4.x", "34": "5.0.x", "35": "5.x", "36": "6.x"}

TEGRA_LINE = re.compile(r"^#\s*R(?P<major>\d+)\s*\(release\),\s*REVISION:\s*(?P<revision>[\d.]+)(?P<rest>.*)$")


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def parse_key_values(text, separator):
    """Flat `key<sep>value` lines, as in os-release and SONiC's sonic_version.yml."""
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or separator not in line:
            continue
        key, value = line.split(separator, 1)
        fields[key.strip()] = value.strip().strip("'\"")
    return fields


def parse_tegra_release(text):
    """The first line of /etc/nv_tegra_release: `# R32 (release), REVISION: 7.1, GCID: .., BOARD: .., ...`."""
    match = TEGRA_LINE.match(text.splitlines()[0].strip()) if text.strip() else None
    if not match:
        return None
    release = "{0}.{1}".format(match.group("major"), match.group("revision"))
    if release.count(".") == 1:
        release += ".0"
    pairs = (part.split(":", 1) for part in match.group("rest").split(",") if ":" in part)
    extra = {key.strip().lower(): value.strip() for key, value in pairs}
    return {
        "l4t_release": release,
        "board": extra.get("board", ""),
        "eabi": extra.get("eabi", ""),
        "jetpack": JETPACK_BY_L4T.get(release, JETPACK_LINE_BY_L4T_MAJOR.get(match.group("major"), "unknown")),
    }


def detect_device(sonic_text, tegra_text, os_release_text, model_text):
    os_release = parse_key_values(os_release_text or "", "=")
    device = {
        "os_id": os_release.get("ID", "unknown"),
        "os_version": os_release.get("VERSION_ID", ""),
        "os_pretty_name": os_release.get("PRETTY_NAME", ""),
        "sonic": {},
        "jetson": {},
    }
    jetson = parse_tegra_release(tegra_text) if tegra_text is not None else None
    if sonic_text is not None:
        device["type"] = "sonic"
        device["sonic"] = parse_key_values(sonic_text, ":")
    elif jetson is not None:
        device["type"] = "jetson"
        jetson["model"] = (model_text or "").strip("\x00\n ")
        device["jetson"] = jetson
    else:
        device["type"] = device["os_id"]
    return device


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    tegra_text = read_text(TEGRA_RELEASE_FILE)
    if tegra_text is not None and parse_tegra_release(tegra_text) is None:
        module.fail_json(
            msg="{0} exists but its first line is not an L4T release line ('# R32 (release), REVISION: 7.1, ...'): "
            "restore it from the L4T image of this board".format(TEGRA_RELEASE_FILE)
        )
    device = detect_device(
        read_text(SONIC_VERSION_FILE), tegra_text, read_text(OS_RELEASE_FILE), read_text(DEVICE_TREE_MODEL)
    )
    module.exit_json(changed=False, ansible_facts={"edgefaas_device": device})


if __name__ == "__main__":
    main()
