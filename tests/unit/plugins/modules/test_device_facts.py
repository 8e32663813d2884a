"""device_facts: identity files of real devices are parsed into the edgefaas_device fact."""

import pytest

from ansible_collections.edgefaas.platform.plugins.modules import device_facts

NANO_TEGRA = (
    "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022\n"
    "# KERNEL_VARIANT: oot\n"
)
ORIN_TEGRA = "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, DATE: Fri Sep 13\n"
UBUNTU_1804 = 'NAME="Ubuntu"\nVERSION="18.04.6 LTS (Bionic Beaver)"\nID=ubuntu\nVERSION_ID="18.04"\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\n'
DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
SONIC_VERSION = "---\nbuild_version: 'SONiC.202311.1'\ndebian_version: '12.5'\nasic_type: broadcom\n"


def test_jetson_nano_release_maps_to_jetpack_461():
    device = device_facts.detect_device(None, NANO_TEGRA, UBUNTU_1804, "NVIDIA Jetson Nano Developer Kit\x00")
    assert device["type"] == "jetson"
    assert device["jetson"] == {
        "l4t_release": "32.7.1",
        "board": "t210ref",
        "eabi": "aarch64",
        "jetpack": "4.6.1",
        "model": "NVIDIA Jetson Nano Developer Kit",
    }
    assert (device["os_id"], device["os_version"]) == ("ubuntu", "18.04")


def test_unlisted_release_maps_to_its_jetpack_line():
    assert device_facts.parse_tegra_release(ORIN_TEGRA.replace("4.0", "9.9"))["jetpack"] == "6.x"


def test_sonic_wins_over_os_release():
    device = device_facts.detect_device(SONIC_VERSION, None, DEBIAN_12, None)
    assert device["type"] == "sonic"
    assert device["sonic"]["build_version"] == "SONiC.202311.1"
    assert device["sonic"]["asic_type"] == "broadcom"
    assert device["jetson"] == {}


@pytest.mark.parametrize(("os_release", "expected"), [(DEBIAN_12, "debian"), (UBUNTU_1804, "ubuntu"), ("", "unknown")])
def test_plain_hosts_take_their_os_release_id(os_release, expected):
    assert device_facts.detect_device(None, None, os_release, None)["type"] == expected


@pytest.mark.parametrize("text", ["", "R32 without the hash\n", "# R32 (release) no revision\n"])
def test_malformed_tegra_release_is_not_a_release(text):
    assert device_facts.parse_tegra_release(text) is None
