"""The CIDR filters: results checked against hand-computed networks, and through a real template."""

import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.filter import cidr

REPO = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize(
    ("value", "network"),
    [
        ("172.20.10.1/24", "172.20.10.0/24"),
        ("10.0.0.0/31", "10.0.0.0/31"),
        ("10.1.0.1/32", "10.1.0.1/32"),
        ("10.1.0.1", "10.1.0.1/32"),
        ("fc00::1/64", "fc00::/64"),
        (" 240.127.1.1/24 ", "240.127.1.0/24"),
    ],
)
def test_cidr_network(value, network):
    assert cidr.cidr_network(value) == network


@pytest.mark.parametrize("value", ["", "10.42.0.0/33", "not-a-net", "10.42/16/1", "300.1.1.1/8"])
def test_cidr_network_refuses_garbage_with_the_value(value):
    with pytest.raises(AnsibleFilterError, match="is not an IP network in CIDR form"):
        cidr.cidr_network(value)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10.42.0.0/16", True),
        ("10.42.0.0/16,2001:cafe:42::/56", True),
        (["10.42.0.0/16", "10.43.0.0/16"], True),
        ("10.42.0.1/16", True),  # host bits set: K3s accepts it, so do we
        ("10.42.0.0/16,", True),
        ("", False),
        ([], False),
        ("10.42.0.0/16,nope", False),
        ("10.420.0.0/16", False),
    ],
)
def test_cidr_valid(value, valid):
    assert cidr.cidr_valid(value) is valid


@pytest.mark.parametrize(
    ("left", "right", "overlaps"),
    [
        ("10.42.0.0/16", "10.42.7.0/24", True),
        ("10.42.7.0/24", "10.42.0.0/16", True),
        ("10.42.0.0/16", "10.43.0.0/16", False),
        ("10.42.0.0/16", "10.41.255.255/32", False),
        ("10.42.0.0/16", "10.42.255.255/32", True),
        ("10.0.0.0/8", "10.42.0.0/16,fd00::/8", True),
        ("fd00::/8", "10.0.0.0/8", False),  # versions never overlap
        (["192.168.0.0/24", "10.42.0.0/16"], "10.42.1.0/24", True),
        ("240.127.1.0/24", "240.127.0.0/16", True),
    ],
)
def test_cidr_overlaps(left, right, overlaps):
    assert cidr.cidr_overlaps(left, right) is overlaps


def test_cidr_conflicts_names_both_sides_and_keeps_the_source():
    existing = [
        {"prefix": "10.0.0.0/31", "table": "INTERFACE", "interface": "Ethernet0"},
        {"prefix": "172.20.10.1/24", "table": "VLAN_INTERFACE", "interface": "Vlan1000"},
        {"prefix": "240.127.1.0/24", "table": "docker", "interface": "docker0"},
    ]
    wanted = {"sonic_k3s_cluster_cidr": "172.20.0.0/16", "sonic_k3s_service_cidr": "10.43.0.0/16"}
    assert cidr.cidr_conflicts(wanted, existing) == [
        {
            "prefix": "172.20.10.1/24",
            "table": "VLAN_INTERFACE",
            "interface": "Vlan1000",
            "name": "sonic_k3s_cluster_cidr",
            "cidr": "172.20.0.0/16",
            "network": "172.20.10.0/24",
        }
    ]


def test_cidr_conflicts_dual_stack_parts_are_checked_one_by_one():
    existing = [{"prefix": "fd00:1::1/64"}, {"prefix": "10.9.0.1/24"}]
    found = cidr.cidr_conflicts({"cluster": "10.42.0.0/16,fd00::/16"}, existing)
    assert [(c["cidr"], c["network"]) for c in found] == [("fd00::/16", "fd00:1::/64")]


def test_cidr_conflicts_none_and_empty():
    assert cidr.cidr_conflicts({"c": "10.42.0.0/16"}, [{"prefix": "10.43.0.0/16"}]) == []
    assert cidr.cidr_conflicts({"c": "10.42.0.0/16"}, []) == []
    assert cidr.cidr_conflicts({}, [{"prefix": "10.43.0.0/16"}]) == []


def test_cidr_conflicts_other_key():
    found = cidr.cidr_conflicts({"c": "10.42.0.0/16"}, [{"subnet": "10.42.3.0/24"}], key="subnet")
    assert found[0]["network"] == "10.42.3.0/24"


def test_cidr_conflicts_bad_input_names_it():
    with pytest.raises(AnsibleFilterError, match=re.escape("c '10.42.0.0/99' is not an IP network")):
        cidr.cidr_conflicts({"c": "10.42.0.0/99"}, [{"prefix": "10.43.0.0/16"}])
    with pytest.raises(AnsibleFilterError, match="every existing entry needs 'prefix'"):
        cidr.cidr_conflicts({"c": "10.42.0.0/16"}, [{"net": "10.43.0.0/16"}])
    with pytest.raises(AnsibleFilterError, match="expects a dict"):
        cidr.cidr_conflicts(["10.42.0.0/16"], [])


def test_filters_work_in_a_real_template():
    """Through Ansible's templar, with the FQCN the roles use (the collection loader finds the plugin)."""
    import subprocess
    import sys

    # The collection loader is installed once per process: do it in a child, as ansible-playbook does.
    code = "\n".join(
        [
            "from pathlib import Path",
            "from ansible.plugins.loader import init_plugin_loader",
            "init_plugin_loader([str(Path('.cache/collections').resolve())])",
            "from ansible.parsing.dataloader import DataLoader",
            "from ansible.template import Templar, trust_as_template",
            "subnets = [{'prefix': '10.42.5.1/24', 'table': 'INTERFACE'}]",
            "templar = Templar(loader=DataLoader(), variables={'subnets': subnets})",
            "print(templar.template(trust_as_template(" + repr(TEMPLATE) + ")))",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.strip() == "['10.42.5.0/24'] 10.42.5.0/24 False"


TEMPLATE = (
    "{{ {'cluster': '10.42.0.0/16'} | edgefaas.platform.cidr_conflicts(subnets) | map(attribute='network') | list }}"
    " {{ '10.42.5.1/24' | edgefaas.platform.cidr_network }}"
    " {{ 'x' | edgefaas.platform.cidr_valid }}"
)
