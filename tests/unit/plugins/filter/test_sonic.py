"""The SONiC CONFIG_DB filters, on the lab's config_db.json and hand-made variants."""

import copy
import json
import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.filter import sonic

LAB_CONFIG_DB = Path(__file__).resolve().parents[4] / "tests" / "lab" / "files" / "config_db.json"


@pytest.fixture
def config_db():
    """The lab's config_db.json as lab.py dresses sonic-1 with it (hostname and management address)."""
    config = json.loads(LAB_CONFIG_DB.read_text())
    config["DEVICE_METADATA"]["localhost"]["hostname"] = "sonic-1"
    config["MGMT_INTERFACE"] = {"eth0|10.77.5.10/24": {"gwaddr": "10.77.5.1"}}
    return config


def test_facts_of_the_lab_switch(config_db):
    facts = sonic.sonic_config_facts(config_db)
    assert facts["hostname"] == "sonic-1"
    assert facts["hwsku"] == "Force10-S6000"
    assert (facts["mgmt_interface"], facts["mgmt_address"], facts["mgmt_prefix"], facts["mgmt_gateway"]) == (
        "eth0",
        "10.77.5.10",
        "10.77.5.10/24",
        "10.77.5.1",
    )
    assert facts["mgmt_vrf_enabled"] is False
    assert [(s["table"], s["interface"], s["network"]) for s in facts["subnets"]] == [
        ("INTERFACE", "Ethernet0", "10.0.0.0/31"),
        ("VLAN_INTERFACE", "Vlan1000", "172.20.10.0/24"),
        ("LOOPBACK_INTERFACE", "Loopback0", "10.1.0.1/32"),
        ("MGMT_INTERFACE", "eth0", "10.77.5.0/24"),
    ]
    assert facts["ctrlplane_acl_tables"] == []


def test_facts_vrf_portchannel_ipv6_and_acl_tables(config_db):
    config_db["MGMT_VRF_CONFIG"]["vrf_global"]["mgmtVrfEnabled"] = "true"
    config_db["PORTCHANNEL_INTERFACE"] = {"PortChannel0001": {}, "PortChannel0001|10.0.0.56/31": {}}
    config_db["MGMT_INTERFACE"]["eth0|fc00:2::32/64"] = {"gwaddr": "fc00:2::1"}
    config_db["ACL_TABLE"] = {
        "SSH_ONLY": {"type": "CTRLPLANE", "services": ["SSH"], "stage": "ingress"},
        "DATAACL": {"type": "L3", "ports": ["Ethernet0"]},
        "snmp_acl": {"type": "ctrlplane", "services": ["SNMP"]},
    }
    facts = sonic.sonic_config_facts(config_db)
    assert facts["mgmt_vrf_enabled"] is True
    assert ("PORTCHANNEL_INTERFACE", "10.0.0.56/31") in [(s["table"], s["network"]) for s in facts["subnets"]]
    assert facts["mgmt_address"] == "10.77.5.10"  # IPv4 first
    assert facts["mgmt_addresses"] == ["10.77.5.10/24", "fc00:2::32/64"]
    assert {"prefix": "fc00:2::32/64", "network": "fc00:2::/64", "version": 6}.items() <= facts["subnets"][-1].items()
    assert facts["ctrlplane_acl_tables"] == ["SSH_ONLY", "snmp_acl"]


def test_facts_of_a_bare_config():
    facts = sonic.sonic_config_facts({})
    assert facts["hostname"] == "" and facts["mgmt_address"] == "" and facts["subnets"] == []
    assert facts["mgmt_vrf_enabled"] is False


def test_facts_refuse_a_bad_prefix_naming_table_and_key(config_db):
    config_db["VLAN_INTERFACE"]["Vlan1000|172.20.10.300/24"] = {}
    with pytest.raises(AnsibleFilterError, match=re.escape("VLAN_INTERFACE key 'Vlan1000|172.20.10.300/24'")):
        sonic.sonic_config_facts(config_db)
    with pytest.raises(AnsibleFilterError, match="expects the CONFIG_DB as a mapping"):
        sonic.sonic_config_facts("{}")


PORTS = [{"port": 6443, "protocol": "tcp"}, {"port": 10250, "protocol": "tcp"}, {"port": 8472, "protocol": "udp"}]


def test_k3s_acl_as_caclmgrd_reads_it():
    acl = sonic.sonic_k3s_acl(PORTS, ["10.77.5.21", "10.77.5.22/32"])
    assert sorted(acl["ACL_TABLE"]) == ["EDGEFAAS_K3S_TCP_10250", "EDGEFAAS_K3S_TCP_6443", "EDGEFAAS_K3S_UDP_8472"]
    assert acl["ACL_TABLE"]["EDGEFAAS_K3S_TCP_6443"]["services"] == ["EXTERNAL_CLIENT"]
    assert acl["ACL_TABLE"]["EDGEFAAS_K3S_UDP_8472"]["services"] == ["ANY"]
    assert all(t["type"] == "CTRLPLANE" and t["stage"] == "ingress" for t in acl["ACL_TABLE"].values())
    assert acl["ACL_RULE"]["EDGEFAAS_K3S_TCP_6443|RULE_1"] == {
        "PRIORITY": "9999",
        "PACKET_ACTION": "ACCEPT",
        "SRC_IP": "10.77.5.21/32",
        "L4_DST_PORT": "6443",
    }
    # caclmgrd keys a table's rules by PRIORITY: they must differ within a table
    assert acl["ACL_RULE"]["EDGEFAAS_K3S_TCP_6443|RULE_2"]["PRIORITY"] == "9998"
    assert "L4_DST_PORT" not in acl["ACL_RULE"]["EDGEFAAS_K3S_UDP_8472|RULE_1"]
    assert len(acl["ACL_RULE"]) == 6


def test_k3s_acl_one_table_per_ip_version():
    acl = sonic.sonic_k3s_acl([{"port": 6443, "protocol": "tcp"}], ["fc00:2::21/128", "10.0.0.0/24"], prefix="X")
    assert sorted(acl["ACL_TABLE"]) == ["X_TCP_6443", "X_TCP_6443_V6"]
    assert acl["ACL_RULE"]["X_TCP_6443_V6|RULE_1"]["SRC_IPV6"] == "fc00:2::21/128"
    assert acl["ACL_RULE"]["X_TCP_6443|RULE_1"]["SRC_IP"] == "10.0.0.0/24"


@pytest.mark.parametrize(
    ("ports", "sources", "message"),
    [
        (PORTS, [], "needs at least one source"),
        (PORTS, ["nano-1.example"], "ACL source 'nano-1.example' is not an IP address"),
        ([{"port": "https"}], ["10.0.0.1"], "needs a numeric 'port'"),
        ([{"port": 70000, "protocol": "tcp"}], ["10.0.0.1"], "port 1-65535, protocol tcp or udp"),
        ([{"port": 53, "protocol": "sctp"}], ["10.0.0.1"], "port 1-65535, protocol tcp or udp"),
    ],
)
def test_k3s_acl_bad_input(ports, sources, message):
    with pytest.raises(AnsibleFilterError, match=message):
        sonic.sonic_k3s_acl(ports, sources)


def test_merge_adds_replaces_and_removes_only_owned_entries(config_db):
    config_db["ACL_TABLE"] = {"SSH_ONLY": {"type": "CTRLPLANE", "services": ["SSH"]}}
    config_db["ACL_RULE"] = {"SSH_ONLY|RULE_1": {"PRIORITY": "1", "PACKET_ACTION": "ACCEPT", "SRC_IP": "10.0.0.0/8"}}
    original = copy.deepcopy(config_db)
    wanted = sonic.sonic_k3s_acl(PORTS, ["10.77.5.21"])
    merged = sonic.sonic_acl_merge(config_db, wanted)
    assert config_db == original  # the input is not modified
    assert set(merged["ACL_TABLE"]) == {"SSH_ONLY", *wanted["ACL_TABLE"]}
    assert merged["ACL_RULE"]["SSH_ONLY|RULE_1"] == original["ACL_RULE"]["SSH_ONLY|RULE_1"]
    assert sonic.sonic_acl_owned(merged) == wanted
    assert sonic.sonic_acl_merge(merged, wanted) == merged  # idempotent
    smaller = sonic.sonic_k3s_acl(PORTS[:1], ["10.77.5.21"])
    assert sorted(sonic.sonic_acl_merge(merged, smaller)["ACL_TABLE"]) == ["EDGEFAAS_K3S_TCP_6443", "SSH_ONLY"]
    assert sonic.sonic_acl_merge(merged, {}) == original  # removal restores the operator's config


def test_merge_without_acls_leaves_the_config_as_it_is(config_db):
    assert sonic.sonic_acl_merge(config_db, {}) == config_db
    assert "ACL_TABLE" not in sonic.sonic_acl_merge(config_db, {"ACL_TABLE": {}, "ACL_RULE": {}})
    assert sonic.sonic_acl_owned(config_db) == {"ACL_TABLE": {}, "ACL_RULE": {}}


def test_owned_needs_the_prefix_and_an_underscore():
    config = {"ACL_TABLE": {"EDGEFAAS_K3S_TCP_6443": {}, "EDGEFAAS_K3SX": {}, "MINE": {}}}
    assert list(sonic.sonic_acl_owned(config)["ACL_TABLE"]) == ["EDGEFAAS_K3S_TCP_6443"]
