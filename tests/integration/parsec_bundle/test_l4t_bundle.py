"""The Parsec bundle for L4T R32 (contrib/parsec-bundle): what a Jetson Nano with glibc 2.27 can run.

Run by run.sh, which passes L4T_BUNDLE (the tarball) and ARM64_ROOTFS (a Debian arm64 root file
system with qemu-aarch64-static in /usr/bin). The binaries run under qemu-user inside that root
file system (`chroot <rootfs> /usr/bin/qemu-aarch64-static <binary>`), started explicitly since
binfmt_misc may not be registrable here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import check_elf  # contrib/parsec-bundle (pyproject's pythonpath)
import pytest

BUNDLE = Path(os.environ.get("L4T_BUNDLE", "/nonexistent"))
ROOTFS = Path(os.environ.get("ARM64_ROOTFS", "/nonexistent"))
QEMU = "/usr/bin/qemu-aarch64-static"
BINARIES = ("parsec", "parsec-tool")
# L4T R32.7 is Ubuntu 18.04: glibc 2.27 and OpenSSL 1.1 (no libcrypto.so.3 / libssl.so.3).
NEWEST_GLIBC = "2.27"
FORBIDDEN_LIBRARIES = {"libcrypto.so.3", "libssl.so.3"}
# The service runs as nobody: Parsec refuses root, and the UID is its client's identity.
NOBODY = "65534:65534"


@pytest.fixture(scope="module", autouse=True)
def bundle_and_rootfs():
    if not BUNDLE.is_file() or not (ROOTFS / QEMU.lstrip("/")).is_file():
        pytest.fail("no L4T_BUNDLE or ARM64_ROOTFS: run tests/integration/parsec_bundle/run.sh, which builds both")


@pytest.fixture(scope="module")
def installed():
    """The bundle unpacked in the root file system: (host path, path inside the chroot)."""
    (ROOTFS / "tmp").mkdir(mode=0o1777, exist_ok=True)
    host_dir = Path(tempfile.mkdtemp(prefix="parsec-l4t.", dir=ROOTFS / "tmp"))
    try:
        with tarfile.open(BUNDLE) as bundle:
            bundle.extractall(host_dir, filter="tar")
        host_dir.chmod(0o755)
        yield host_dir, "/" + str(host_dir.relative_to(ROOTFS))
    finally:
        shutil.rmtree(host_dir)


def in_chroot(*argv):
    """Runs an aarch64 program of the root file system under qemu-user, as nobody."""
    return ["chroot", f"--userspec={NOBODY}", str(ROOTFS), QEMU, *argv]


def test_the_sha256_file_is_what_the_role_verifies():
    line = Path(f"{BUNDLE}.sha256").read_text()
    digest = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()
    assert line == f"{digest}  {BUNDLE.name}\n"


def test_the_bundle_has_the_layout_the_role_installs(installed):
    host_dir = installed[0]
    for binary in BINARIES:
        assert os.access(host_dir / "bin" / binary, os.X_OK), f"bin/{binary} is missing or not executable"
    assert "parsec-service 1.4.1 " in (host_dir / "share" / "parsec-bundle" / "SOURCES").read_text()


@pytest.mark.parametrize("binary", BINARIES)
def test_the_binary_is_aarch64(installed, binary):
    assert check_elf.elf_machine(check_elf.readelf(str(installed[0] / "bin" / binary), "-h")) == "AArch64"


@pytest.mark.parametrize("binary", BINARIES)
def test_no_symbol_needs_a_glibc_newer_than_l4t_r32(installed, binary):
    path = str(installed[0] / "bin" / binary)
    too_new = check_elf.glibc_too_new(
        check_elf.readelf(path, "--dyn-syms"), check_elf.readelf(path, "-V"), NEWEST_GLIBC
    )
    assert too_new == [], f"bin/{binary} needs a glibc newer than {NEWEST_GLIBC}: {', '.join(too_new)}"


@pytest.mark.parametrize("binary", BINARIES)
def test_no_libcrypto_or_libssl_3_is_needed(installed, binary):
    needed = check_elf.needed_libraries(check_elf.readelf(str(installed[0] / "bin" / binary), "-d"))
    assert "libc.so.6" in needed  # the parse found the dynamic section
    assert FORBIDDEN_LIBRARIES.isdisjoint(needed), f"bin/{binary} needs {needed}"


def test_the_operators_check_command_passes(installed):
    """The command contrib/parsec-bundle/README.md gives the operator."""
    files = [str(installed[0] / "bin" / binary) for binary in BINARIES]
    arguments = ["--machine", "AArch64", "--max-glibc", NEWEST_GLIBC]
    for library in sorted(FORBIDDEN_LIBRARIES):
        arguments += ["--forbid-needed", library]
    assert check_elf.main([*arguments, *files]) == 0


# parsec has no --version: its --help proves that it starts (the Ping below, that it serves).
@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["parsec", "--help"], "Usage: parsec [OPTIONS]"), (["parsec-tool", "--version"], "parsec-tool 0.7.0")],
)
def test_the_binary_starts_under_qemu(installed, argv, expected):
    result = subprocess.run(
        in_chroot(f"{installed[1]}/bin/{argv[0]}", *argv[1:]), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout.splitlines()


CONFIG = """\
[core_settings]
allow_root = false
log_level = "info"

[listener]
listener_type = "DomainSocket"
timeout = 2000
socket_path = "{chroot_dir}/run/parsec.sock"

[authenticator]
auth_type = "UnixPeerCredentials"

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "{chroot_dir}/state/kim-mappings.sqlite3"

[[provider]]
name = "mbed-crypto-provider"
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
"""


@pytest.fixture(scope="module")
def service(installed):
    """parsec running under qemu-user in the root file system with the role's default providers."""
    host_dir, chroot_dir = installed
    for directory in ("run", "state"):
        (host_dir / directory).mkdir()
        shutil.chown(host_dir / directory, 65534, 65534)
    (host_dir / "config.toml").write_text(CONFIG.format(chroot_dir=chroot_dir))
    log = (host_dir / "parsec.log").open("w")
    process = subprocess.Popen(
        in_chroot(f"{chroot_dir}/bin/parsec", "--config", f"{chroot_dir}/config.toml"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        socket = host_dir / "run" / "parsec.sock"
        deadline = time.monotonic() + 120  # emulated: far slower than on the Nano
        while not socket.is_socket() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if not socket.is_socket():
            pytest.fail(f"parsec did not listen on {socket}: {(host_dir / 'parsec.log').read_text()}")
        yield f"unix:{chroot_dir}/run/parsec.sock"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def parsec_tool(installed, endpoint, *argv):
    return subprocess.run(
        in_chroot(f"{installed[1]}/bin/parsec-tool", *argv),
        env={**os.environ, "PARSEC_SERVICE_ENDPOINT": endpoint},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_parsec_tool_ping_gets_an_answer_from_parsec(installed, service):
    result = parsec_tool(installed, service, "ping")
    assert result.returncode == 0, result.stdout + result.stderr
    # parsec-tool logs "Service wire protocol version" and prints the Ping result's major.minor.
    assert "Service wire protocol version" in result.stderr and result.stdout.strip() == "1.0", result


def test_the_service_offers_the_mbed_crypto_provider(installed, service):
    result = parsec_tool(installed, service, "list-providers")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Mbed Crypto provider" in result.stdout + result.stderr
