# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""IP network filters on the standard library's ipaddress, so the controller needs no netaddr.

ansible.utils' ipaddr family needs the netaddr Python package on the controller, which neither
ansible-core nor the ansible package installs; these few filters are all the collection needs.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def _network(value, what="value"):
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError as exc:
        raise AnsibleFilterError(
            "{0} '{1}' is not an IP network in CIDR form (e.g. 10.42.0.0/16): {2}".format(what, value, exc)
        ) from exc


def _split(value):
    """One CIDR, a comma-separated dual-stack string as K3s takes it, or a list of either."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def cidr_network(value):
    """`172.20.10.1/24` -> `172.20.10.0/24`."""
    return str(_network(value))


def cidr_valid(value):
    """True when every comma-separated part of value is an IP network (host bits may be set)."""
    parts = _split(value)
    if not parts:
        return False
    try:
        for part in parts:
            ipaddress.ip_network(part, strict=False)
    except ValueError:
        return False
    return True


def cidr_overlaps(value, other):
    """True when any network of value overlaps any network of other (mixed IP versions never do)."""
    for left in _split(value):
        for right in _split(other):
            a, b = _network(left), _network(right)
            if a.version == b.version and a.overlaps(b):
                return True
    return False


def cidr_conflicts(wanted, existing, key="prefix"):
    """Every pair of a wanted CIDR and an existing subnet that overlap.

    wanted: {name: cidr} (a cidr may be a comma-separated dual-stack string);
    existing: list of dicts holding a prefix under `key` (other keys are passed through).
    Returns a list of dicts: the existing entry plus `name`, `cidr` (the wanted part that
    overlaps) and `network` (the existing subnet in CIDR form).
    """
    if not isinstance(wanted, dict):
        raise AnsibleFilterError("cidr_conflicts expects a dict of name: cidr, got {0}".format(type(wanted).__name__))
    conflicts = []
    for name, value in wanted.items():
        for part in _split(value):
            mine = _network(part, name)
            for entry in existing or []:
                if not isinstance(entry, dict) or key not in entry:
                    raise AnsibleFilterError("cidr_conflicts: every existing entry needs '{0}': {1}".format(key, entry))
                theirs = _network(entry[key], "existing subnet")
                if mine.version == theirs.version and mine.overlaps(theirs):
                    conflicts.append(dict(entry, name=name, cidr=str(mine), network=str(theirs)))
    return conflicts


class FilterModule:
    """IP network filters that need only the standard library."""

    def filters(self):
        return {
            "cidr_network": cidr_network,
            "cidr_valid": cidr_valid,
            "cidr_overlaps": cidr_overlaps,
            "cidr_conflicts": cidr_conflicts,
        }
