# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""SONiC CONFIG_DB data as the sonic role needs it: facts, the K3s control-plane ACL, merges.

Pure data transformations (config_db.json and `sonic-cfggen -d --print-data` share one format),
kept in Python so that they are unit-tested and the role's YAML stays readable.
"""

from __future__ import annotations

import copy
import ipaddress

from ansible.errors import AnsibleFilterError

# Tables whose keys are "<interface>|<address>/<length>".
INTERFACE_TABLES = ("INTERFACE", "VLAN_INTERFACE", "PORTCHANNEL_INTERFACE", "LOOPBACK_INTERFACE", "MGMT_INTERFACE")

# caclmgrd's services: EXTERNAL_CLIENT is TCP with the port taken from the rule's L4_DST_PORT;
# no service matches a chosen UDP port, so UDP needs ANY (every protocol from the rule's source).
ACL_SERVICE_BY_PROTOCOL = {"tcp": "EXTERNAL_CLIENT", "udp": "ANY"}


def _table(config, name):
    value = (config or {}).get(name) or {}
    if not isinstance(value, dict):
        raise AnsibleFilterError("CONFIG_DB table {0} is not a mapping: {1!r}".format(name, value))
    return value


def sonic_config_facts(config):
    """What the K3s roles need from a CONFIG_DB dump: identity, management, subnets, control-plane ACLs."""
    if not isinstance(config, dict):
        raise AnsibleFilterError("sonic_config_facts expects the CONFIG_DB as a mapping, got {0}".format(type(config)))
    metadata = _table(config, "DEVICE_METADATA").get("localhost") or {}
    subnets = []
    for table in INTERFACE_TABLES:
        for key in sorted(_table(config, table)):
            if "|" not in key:
                continue  # "Ethernet0": the interface's own attributes, no address
            interface, prefix = key.split("|", 1)
            try:
                network = ipaddress.ip_network(prefix, strict=False)
            except ValueError as exc:
                raise AnsibleFilterError(
                    "{0} key '{1}' does not hold an IP prefix: {2}".format(table, key, exc)
                ) from exc
            subnets.append(
                {
                    "table": table,
                    "interface": interface,
                    "prefix": prefix,
                    "network": str(network),
                    "version": network.version,
                }
            )
    mgmt = [s for s in subnets if s["table"] == "MGMT_INTERFACE"]
    first = ([s for s in mgmt if s["version"] == 4] or mgmt or [None])[0]
    mgmt_attrs = (
        _table(config, "MGMT_INTERFACE").get("{0}|{1}".format(first["interface"], first["prefix"])) if first else {}
    )
    vrf = (_table(config, "MGMT_VRF_CONFIG").get("vrf_global") or {}).get("mgmtVrfEnabled", "false")
    acl_tables = _table(config, "ACL_TABLE")
    return {
        "hostname": metadata.get("hostname", ""),
        "hwsku": metadata.get("hwsku", ""),
        "platform": metadata.get("platform", ""),
        "mac": metadata.get("mac", ""),
        "mgmt_interface": first["interface"] if first else "",
        "mgmt_address": first["prefix"].split("/")[0] if first else "",
        "mgmt_prefix": first["prefix"] if first else "",
        "mgmt_gateway": (mgmt_attrs or {}).get("gwaddr", ""),
        "mgmt_addresses": [s["prefix"] for s in mgmt],
        "mgmt_vrf_enabled": str(vrf).strip().lower() == "true",
        "subnets": subnets,
        "ctrlplane_acl_tables": sorted(
            name for name, attrs in acl_tables.items() if str((attrs or {}).get("type", "")).upper() == "CTRLPLANE"
        ),
    }


def sonic_k3s_acl(ports, sources, prefix="EDGEFAAS_K3S", priority=9999):
    """ACL_TABLE and ACL_RULE entries that let `sources` reach `ports` through caclmgrd.

    One CTRLPLANE table per port, protocol and IP version (caclmgrd takes an EXTERNAL_CLIENT
    table's port from its rules and a table's IP version from its first rule), one ACCEPT rule
    per source with a distinct PRIORITY (caclmgrd keys a table's rules by priority).
    """
    networks = []
    for source in sources or []:
        try:
            networks.append(ipaddress.ip_network(str(source).strip(), strict=False))
        except ValueError as exc:
            raise AnsibleFilterError(
                "ACL source '{0}' is not an IP address or network: list addresses in sonic_k3s_acl_sources".format(
                    source
                )
            ) from exc
    if not networks:
        raise AnsibleFilterError("the K3s control-plane ACL needs at least one source: set sonic_k3s_acl_sources")
    tables, rules = {}, {}
    for entry in ports or []:
        try:
            port, protocol = int(entry["port"]), str(entry.get("protocol", "tcp")).lower()
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleFilterError(
                "ACL port entry {0!r} needs a numeric 'port' and a 'protocol'".format(entry)
            ) from exc
        if protocol not in ACL_SERVICE_BY_PROTOCOL or not 0 < port < 65536:
            raise AnsibleFilterError("ACL port entry {0!r}: port 1-65535, protocol tcp or udp".format(entry))
        for version in (4, 6):
            mine = [n for n in networks if n.version == version]
            if not mine:
                continue
            name = "{0}_{1}_{2}{3}".format(prefix, protocol.upper(), port, "" if version == 4 else "_V6")
            tables[name] = {
                "type": "CTRLPLANE",
                "stage": "ingress",
                "services": [ACL_SERVICE_BY_PROTOCOL[protocol]],
                "policy_desc": "EdgeFaaS K3s {0}/{1} (managed by edgefaas.platform.sonic)".format(port, protocol),
            }
            for index, network in enumerate(mine):
                rule = {
                    "PRIORITY": str(priority - index),
                    "PACKET_ACTION": "ACCEPT",
                    "SRC_IP" if version == 4 else "SRC_IPV6": str(network),
                }
                if protocol == "tcp":
                    rule["L4_DST_PORT"] = str(port)
                rules["{0}|RULE_{1}".format(name, index + 1)] = rule
    return {"ACL_TABLE": tables, "ACL_RULE": rules}


def _owned(name, prefix):
    return name.split("|", 1)[0].startswith(prefix + "_")


def sonic_acl_owned(config, prefix="EDGEFAAS_K3S"):
    """The ACL_TABLE and ACL_RULE entries of a CONFIG_DB that carry the role's prefix."""
    return {
        table: {key: value for key, value in _table(config, table).items() if _owned(key, prefix)}
        for table in ("ACL_TABLE", "ACL_RULE")
    }


def sonic_acl_merge(config, wanted, prefix="EDGEFAAS_K3S"):
    """config with the prefixed ACL entries replaced by wanted's; everything else untouched.

    A table that did not exist and stays empty is not added, so a config without ACLs stays
    byte-for-byte the same data.
    """
    merged = copy.deepcopy(config)
    for table in ("ACL_TABLE", "ACL_RULE"):
        entries = {key: value for key, value in _table(config, table).items() if not _owned(key, prefix)}
        entries.update(copy.deepcopy((wanted or {}).get(table) or {}))
        if entries or table in config:
            merged[table] = entries
    return merged


class FilterModule:
    """SONiC CONFIG_DB filters of the sonic role."""

    def filters(self):
        return {
            "sonic_config_facts": sonic_config_facts,
            "sonic_k3s_acl": sonic_k3s_acl,
            "sonic_acl_owned": sonic_acl_owned,
            "sonic_acl_merge": sonic_acl_merge,
        }
