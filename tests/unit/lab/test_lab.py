"""The lab tool: image tags follow the recipe, SONiC's config_db matches the host's address."""

import ipaddress
import json

import lab


def test_image_tag_changes_with_the_recipe(monkeypatch):
    before = lab.image_tag("bookworm")
    monkeypatch.setattr(lab, "MIRROR", "http://mirror.invalid/debian")
    assert lab.image_tag("bookworm") != before
    assert lab.image_tag("trixie") != lab.image_tag("bookworm")


def test_config_db_names_the_host_and_its_management_address():
    subnet = ipaddress.IPv4Network("10.77.5.0/24")
    config = json.loads(lab.sonic_config_db("sonic-9", "10.77.5.10", subnet))
    assert config["DEVICE_METADATA"]["localhost"]["hostname"] == "sonic-9"
    assert config["MGMT_INTERFACE"] == {"eth0|10.77.5.10/24": {"gwaddr": "10.77.5.1"}}
    assert config["MGMT_VRF_CONFIG"]["vrf_global"]["mgmtVrfEnabled"] == "false"


def test_every_host_has_a_distinct_address_in_the_subnet():
    octets = [host[4] for host in lab.HOSTS]
    assert len(set(octets)) == len(octets)
    assert all(1 < o < 255 for o in octets)
