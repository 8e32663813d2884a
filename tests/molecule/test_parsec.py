"""Parsec in the lab: the role's result on every host, and the modules against the real services."""

import base64
import hashlib
import shlex
from pathlib import Path

import pytest
from conftest import changed_counts
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY = "molecule-parsec-key"


def test_parsec_service_enabled_and_running(host):
    service = host.service("parsec")
    assert service.is_enabled
    assert service.is_running


def test_parsec_files_are_private(host):
    config = host.file("/etc/parsec/config.toml")
    assert (config.user, config.group, config.mode) == ("parsec", "parsec", 0o600)
    assert host.file("/etc/parsec").mode == 0o700
    assert host.file("/var/lib/parsec").mode == 0o700
    assert host.file("/run/parsec/parsec.sock").is_socket


def test_parsec_unit_drop_in_sets_working_directory(host):
    unit = host.check_output("systemctl cat parsec")
    assert "WorkingDirectory=/var/lib/parsec" in unit
    assert "ProtectSystem=strict" in unit


def test_parsec_install_method_per_distribution(host):
    if host.system_info.codename == "trixie":
        assert host.package("parsec-service").is_installed
    else:
        assert host.file("/opt/parsec/current/bin/parsec").is_file
        assert not host.package("parsec-service").is_installed


def test_parsec_tool_pings_the_service(host):
    assert "1.0" in host.check_output("parsec-tool ping")


def key_task(name, **args):
    return {"name": name, "edgefaas.platform.parsec_key": {"name": KEY, **args}}


@pytest.mark.destructive
@pytest.mark.parametrize("target", ["sonic-1", "sonic-2", "nano-1"])
def test_parsec_key_check_real_idempotent(play, target):
    """community.crypto's shape: check, real, idempotent, idempotent in check mode, then removal."""
    absent = play(target, [key_task("absent", state="absent")])
    assert not absent["absent"][target].get("failed"), absent
    check = play(target, [key_task("create", type="ecc")], check=True)["create"][target]
    listed = play(target, [{"name": "info", "edgefaas.platform.parsec_info": {}}])["info"][target]
    assert check["changed"] and KEY not in [k["name"] for k in listed["client_keys"]]
    real = play(target, [key_task("create", type="ecc")])["create"][target]
    assert real["changed"] and real["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    again = play(target, [key_task("create", type="ecc")])["create"][target]
    assert not again["changed"] and again["public_key"] == real["public_key"]
    again_check = play(target, [key_task("create", type="ecc")], check=True)["create"][target]
    assert not again_check["changed"]
    gone = play(target, [key_task("absent", state="absent")])["absent"][target]
    assert gone["changed"]
    assert not play(target, [key_task("absent", state="absent")])["absent"][target]["changed"]


@pytest.mark.destructive
def test_parsec_key_mismatch_names_the_differences_then_force_replaces(play):
    target = "nano-2"
    play(target, [key_task("absent", state="absent")])
    first = play(target, [key_task("create", type="ecc")])["create"][target]
    mismatch = play(target, [key_task("rsa", type="rsa", usage="sign")])["rsa"][target]
    assert mismatch["failed"]
    assert "ecc_key_pair" in mismatch["msg"] and "rsa_key_pair" in mismatch["msg"], mismatch["msg"]
    forced = play(target, [key_task("rsa", type="rsa", usage="sign", force=True)])["rsa"][target]
    assert forced["changed"] and forced["public_key"] != first["public_key"]
    play(target, [key_task("absent", state="absent")])


@pytest.mark.destructive
def test_parsec_tool_and_modules_interoperate(play, host):
    """A key made by the module: parsec-tool exports the same public key and signs a CSR with it."""
    if host.backend.get_hostname() != "sonic-1":
        pytest.skip("interop is checked once, on the packaged service")
    made = play("sonic-1", [key_task("create", type="ecc")])["create"]["sonic-1"]
    with host.sudo():
        exported = host.check_output(f"parsec-tool export-public-key --key-name {KEY}")
        csr_pem = host.check_output(f"parsec-tool create-csr --key-name {KEY} --cn sonic-1 --o EdgeFaaS")
    ours = serialization.load_pem_public_key(made["public_key"].encode())
    theirs = serialization.load_pem_public_key(exported.encode())
    assert ours.public_numbers() == theirs.public_numbers()
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.is_signature_valid and csr.public_key().public_numbers() == ours.public_numbers()
    play("sonic-1", [key_task("absent", state="absent")])


@pytest.mark.destructive
def test_parsec_signature_from_parsec_tool_verifies_with_the_module_key(play, host):
    if host.backend.get_hostname() != "nano-1":
        pytest.skip("checked once, on a bundled service")
    made = play("nano-1", [key_task("create", type="ecc")])["create"]["nano-1"]
    message = b"signed by parsec-tool"
    with host.sudo():
        signature = base64.b64decode(host.check_output(f"parsec-tool sign --key-name {KEY} '{message.decode()}'"))
    key = serialization.load_pem_public_key(made["public_key"].encode())
    key.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # raises when it does not verify
    play("nano-1", [key_task("absent", state="absent")])


@pytest.mark.destructive
def test_parsec_clients_see_only_their_own_keys(play, host):
    """Two users on one service each hold a key of the same name and see only their own."""
    if host.backend.get_hostname() != "nano-1":
        pytest.skip("checked once")
    with host.sudo():
        host.check_output("id tenant2 || useradd --system --shell /usr/sbin/nologin tenant2")
    results = {}
    for user in ("nobody", "tenant2"):
        play("nano-1", [key_task("create", type="ecc")], become_user=user)
        info = play("nano-1", [{"name": "info", "edgefaas.platform.parsec_info": {}}], become_user=user)
        results[user] = info["info"]["nano-1"]["client_keys"]
    for user, keys in results.items():
        assert [k["name"] for k in keys] == [KEY], (user, keys)
    root_keys = play("nano-1", [{"name": "info", "edgefaas.platform.parsec_info": {}}])["info"]["nano-1"]
    assert KEY not in [k["name"] for k in root_keys["client_keys"]]
    for user in ("nobody", "tenant2"):
        play("nano-1", [key_task("absent", state="absent")], become_user=user)


@pytest.mark.destructive
def test_parsec_role_refuses_to_orphan_keys(play, run_playbook, lab_hostvars, host):
    """Switching the authenticator while a key exists fails with the reason and changes nothing."""
    if host.backend.get_hostname() != "nano-2":
        pytest.skip("checked once")
    play("nano-2", [key_task("create", type="ecc")])
    inventory = {"all": {"children": {"edge": {"hosts": {"nano-2": lab_hostvars["nano-2"]}}}}}
    rc, output = run_playbook("edgefaas.platform.parsec", inventory, {"parsec_authenticator": "Direct"})
    play("nano-2", [key_task("absent", state="absent")])
    assert rc != 0, output
    assert "refusing to change authenticator UnixPeerCredentials -> Direct" in output, output
    assert 'auth_type = "UnixPeerCredentials"' in host.check_output("sudo cat /etc/parsec/config.toml")


def test_parsec_role_refuses_a_corrupt_artifact(run_playbook, lab_hostvars, host, tmp_path):
    if host.backend.get_hostname() != "nano-2":
        pytest.skip("checked once")
    bad = tmp_path / "parsec-bundle-linux-x86_64.tar.gz"
    bad.write_bytes(b"not the bundle")
    inventory = {"all": {"children": {"edge": {"hosts": {"nano-2": lab_hostvars["nano-2"]}}}}}
    before = host.check_output("readlink /opt/parsec/current")
    rc, output = run_playbook(
        "edgefaas.platform.parsec", inventory, {"parsec_binary_src": str(bad), "parsec_binary_sha256": "0" * 64}
    )
    assert rc != 0, output
    assert f"{bad} has sha256 {hashlib.sha256(b'not the bundle').hexdigest()}" in output, output
    assert "Nothing was installed" in output
    assert host.check_output("readlink /opt/parsec/current") == before


# The role against configurations found in the field (issue 9, faults 4 and 5), on nano-2's
# Parsec (the bundle with this collection's unit). Each test leaves the role's defaults in place.

OLD_STYLE_CONFIG = (Path(__file__).resolve().parents[1] / "fixtures/parsec-config-old-style.toml").read_text()
SQLITE_DB = "/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3"
KEEP_ON_DISK = "parsec_key_info_manager_type: OnDisk, parsec_key_info_manager_store_path: /var/lib/parsec/mappings"


@pytest.fixture
def nano2_role(run_playbook, lab_hostvars, host):
    """Runs the parsec stage on nano-2 alone with extra variables; skips on the other hosts."""
    if host.backend.get_hostname() != "nano-2":
        pytest.skip("checked once, on nano-2")
    inventory = {"all": {"children": {"edge": {"hosts": {"nano-2": lab_hostvars["nano-2"]}}}}}
    return lambda **extra_vars: run_playbook("edgefaas.platform.parsec", inventory, extra_vars)


def config_text(host):
    with host.sudo():
        return host.check_output("cat /etc/parsec/config.toml")


def main_pid(host):
    return host.check_output("systemctl show --property MainPID --value parsec")


def start_with_config(host, text):
    """Puts a config.toml in place by hand, as an earlier installation left it, and restarts Parsec."""
    with host.sudo():
        host.check_output(f"printf '%s' {shlex.quote(text)} > /etc/parsec/config.toml")
        host.check_output("systemctl restart parsec")
        host.check_output("timeout 30 sh -c 'until parsec-tool ping >/dev/null 2>&1; do sleep 0.5; done'")


def key_names(play, target="nano-2"):
    listed = play(target, [{"name": "info", "edgefaas.platform.parsec_info": {}}])["info"][target]
    return [key["name"] for key in listed["client_keys"]]


@pytest.mark.destructive
def test_parsec_old_style_config_with_a_key_is_refused_then_converted_without(nano2_role, play, host):
    """A provider without name and an OnDisk manager: read with upstream's defaults, not a Jinja crash."""
    start_with_config(host, OLD_STYLE_CONFIG)
    play("nano-2", [key_task("create", type="ecc")])
    rc, output = nano2_role()
    assert rc != 0, output
    assert (
        "refusing to change key info manager of provider mbed-crypto-provider: OnDisk at /var/lib/parsec/mappings "
        f"-> SQLite at {SQLITE_DB} while the service holds 1 key(s) (MbedCrypto: 1)"
    ) in output, output
    assert KEEP_ON_DISK in output
    assert config_text(host) == OLD_STYLE_CONFIG.rstrip("\n")
    assert KEY in key_names(play)
    play("nano-2", [key_task("absent", state="absent")])
    rc, output = nano2_role()
    assert rc == 0, output
    assert 'manager_type = "SQLite"' in config_text(host)


@pytest.mark.destructive
def test_parsec_on_disk_to_sqlite_with_keys_is_refused_and_the_keys_stay(nano2_role, play, host):
    """The named-provider case: the guard passed it before, and ListKeys lost every key."""
    rc, output = nano2_role(parsec_key_info_manager_type="OnDisk")
    assert rc == 0, output
    play("nano-2", [key_task("create", type="ecc")])
    rc, output = nano2_role()
    assert rc != 0, output
    assert "refusing to change key info manager of provider mbed-crypto-provider: OnDisk at" in output, output
    assert 'manager_type = "OnDisk"' in config_text(host)
    assert KEY in key_names(play)
    play("nano-2", [key_task("absent", state="absent")])
    rc, output = nano2_role()
    assert rc == 0, output
    assert 'manager_type = "SQLite"' in config_text(host)


@pytest.mark.destructive
@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            {"name": "tpm", "type": "Tpm"},
            "provider tpm needs /dev/tpmrm0 (tcti), which this host does not have: give the host a TPM",
        ),
        (
            {"name": "hsm", "type": "Pkcs11", "library_path": "/usr/lib/softhsm/libsofthsm2.so", "user_pin": "1234"},
            "provider hsm needs /usr/lib/softhsm/libsofthsm2.so (library_path), which this host does not have",
        ),
    ],
    ids=["tpm-without-device", "pkcs11-without-library"],
)
def test_parsec_provider_that_cannot_start_is_refused_before_any_change(nano2_role, host, provider, expected):
    before, pid = config_text(host), main_pid(host)
    rc, output = nano2_role(parsec_providers=[{"name": "mbed-crypto-provider", "type": "MbedCrypto"}, provider])
    assert rc != 0, output
    assert expected in output, output
    assert "Nothing was changed" in output
    assert (config_text(host), main_pid(host)) == (before, pid)
    assert "1.0" in host.check_output("parsec-tool ping")


@pytest.mark.destructive
def test_parsec_that_dies_after_the_change_fails_the_play_with_its_journal(nano2_role, host):
    """A TPM simulator that is not running: no path to check before, Parsec exits at reload."""
    simulator = {"name": "tpm-sim", "type": "Tpm", "tcti": "mssim:host=127.0.0.1,port=2321"}
    rc, output = nano2_role(
        parsec_providers=[{"name": "mbed-crypto-provider", "type": "MbedCrypto"}, simulator],
        parsec_start_retries=5,
        parsec_start_delay=1,
    )
    assert rc != 0, output
    assert "Parsec does not answer on /run/parsec/parsec.sock after 5 attempts" in output, output
    assert "provider tpm-sim (Tpm) could not start: check tcti=mssim:host=127.0.0.1,port=2321" in output
    assert "Provider with ID TPM provider cannot be created" in output  # quoted from the journal
    rc, output = nano2_role()
    assert rc == 0, output
    assert "1.0" in host.check_output("parsec-tool ping")


@pytest.mark.destructive
def test_parsec_log_level_change_restarts_other_changes_reload(nano2_role, host):
    pid = main_pid(host)
    rc, output = nano2_role(parsec_idle_listener_sleep_duration=5)
    assert rc == 0, output
    assert main_pid(host) == pid, "a reloadable setting restarted the service"
    rc, output = nano2_role(parsec_idle_listener_sleep_duration=5, parsec_log_level="debug")
    assert rc == 0, output
    restarted = main_pid(host)
    assert restarted != pid, "the log level changed but the service was only reloaded"
    rc, output = nano2_role()
    assert rc == 0, output
    assert main_pid(host) != restarted


@pytest.mark.destructive
def test_parsec_install_cut_short_is_redone_then_left_alone(nano2_role, host):
    """A version directory without the artifact role's completion record is unpacked again (the kind:
    an unpack cut short must never pass for an install because one of its files exists)."""
    current = host.check_output("readlink /opt/parsec/current")
    record = f"{current}/.edgefaas-artifact"
    with host.sudo():
        recorded = host.check_output(f"cat {record}").split()[0]
        host.check_output(f"rm {record} {current}/bin/parsec-tool")
    rc, output = nano2_role()
    assert rc == 0, output
    assert host.file(f"{current}/bin/parsec-tool").is_file, "the missing file of the cut-short unpack is not back"
    with host.sudo():
        assert host.check_output(f"cat {record}").split()[0] == recorded
    assert host.check_output("readlink /opt/parsec/current") == current
    assert "1.0" in host.check_output("parsec-tool ping")
    rc, output = nano2_role()
    assert rc == 0 and changed_counts(output) == {"nano-2": 0}, output


@pytest.mark.destructive
def test_parsec_still_running_an_earlier_install_is_restarted(nano2_role, host):
    """A run that moved `current` and stopped before its handlers left Parsec on the earlier binary: the
    next run restarts it, judged from when the running process started, not from what it copied."""
    pid = main_pid(host)
    with host.sudo():
        host.check_output("touch --no-dereference /opt/parsec/current")
    rc, output = nano2_role()
    assert rc == 0, output
    assert "parsec started before /opt/parsec/current changed" in output, output
    assert main_pid(host) != pid, "Parsec still runs what it started with before `current` moved"
    assert "1.0" in host.check_output("parsec-tool ping")
    rc, output = nano2_role()
    assert rc == 0 and changed_counts(output) == {"nano-2": 0}, output
