"""Round trips per second to the real Parsec service: our client, a bare socket and parsec-tool.

Starts Parsec from the cached bundle (tests/lab/build-parsec-bundle.sh) in a temporary directory,
once with the default idle_listener_sleep_duration (10 ms) and once with 1 ms, as the system user
`parsec` (Parsec refuses to run as root), makes an ECDSA P-256 key for the caller's UID and
measures `ping` and `sign_hash` (SHA-256 digest) round trips, one connection per request:

- our client: ParsecClient.ping() and ParsecClient.sign_hash();
- bare socket: request bytes built once with the client's own encoder, then connect, sendall and
  recv until the service closes, validating nothing: the floor for a Python client;
- parsec-tool: `parsec-tool ping` and `parsec-tool sign`, one process per command (and `sign` makes
  several requests), so it completes far fewer calls in the same time.

Each runs with 1 and with 4 concurrent clients: forked worker processes, so that the GIL does not
serialise the Python clients. Within a case the three methods take turns in 0.1 s slices, every
worker switching at the same instants, so that load from other users of the machine meets all of
them alike. Each call has a timeout and each slice a call limit; the service is stopped
afterwards, also on errors or a kill. Run as root from the repository root:

    .venv/bin/python tests/bench/bench_parsec.py
"""

import argparse
import functools
import hashlib
import multiprocessing
import os
import platform
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".cache" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_section  # noqa: E402

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec import (  # noqa: E402
    SIGN_USAGE,
    KeyAttributes,
    Opcode,
    ParsecClient,
    ecdsa,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.operations import encode_sign_hash  # noqa: E402
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.wire import encode_request  # noqa: E402

SECTION = "parsec round trips"
SLEEPS_MS = (10, 1)
OPERATIONS = ("ping", "sign_hash")
CONCURRENCY = (1, 4)
OUR_CLIENT, BARE_SOCKET, PARSEC_TOOL = "our client", "bare socket", "parsec-tool"
METHODS = (OUR_CLIENT, BARE_SOCKET, PARSEC_TOOL)
# Our client and the bare socket swap places every other cycle of slices, so that each follows
# parsec-tool's slices (processes starting and exiting) as often as the other.
SLICE_ORDERS = ((OUR_CLIENT, BARE_SOCKET, PARSEC_TOOL), (BARE_SOCKET, OUR_CLIENT, PARSEC_TOOL))
SLICE = 0.1  # seconds
# Per worker and slice; only a bound, the slice's time ends it first.
MAX_CALLS = {OUR_CLIENT: 1000, BARE_SOCKET: 1000, PARSEC_TOOL: 25}
KEY_NAME = "bench-p256"
MESSAGE = b"edgefaas parsec benchmark"
DIGEST = hashlib.sha256(MESSAGE).digest()
# Workers warm up (first connection, provider lookup) before a common start time.
START_DELAY = 0.3
CALL_TIMEOUT = 10  # seconds, for our client and parsec-tool; the bare socket has none, its job's timeout bounds it
TARGET_RATIO = 0.9


@dataclass(frozen=True)
class Target:
    """What a worker needs to reach the service; picklable for the worker processes."""

    socket_path: str
    tool: str
    lib_dir: str
    requests: dict  # operation -> pre-built request bytes


# ---------------------------------------------------------------------------------------------
# The service


def find_bundle(explicit):
    if explicit:
        bundle = Path(explicit)
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgefaas"
        found = list(cache.glob(f"parsec-bundle-*/parsec-bundle-*-linux-{platform.machine()}.tar.gz"))
        if not found:
            sys.exit(f"no Parsec bundle in {cache}: run tests/lab/build-parsec-bundle.sh")
        bundle = max(found, key=lambda path: path.stat().st_mtime)
    expected = Path(f"{bundle}.sha256").read_text().split()[0]
    if hashlib.sha256(bundle.read_bytes()).hexdigest() != expected:
        sys.exit(f"{bundle} does not match its .sha256 file: delete its directory and rebuild it")
    return bundle


CONFIG = """\
[core_settings]
allow_root = false
idle_listener_sleep_duration = {sleep_ms}
log_level = "warn"

[listener]
listener_type = "DomainSocket"
timeout = 200
socket_path = "{socket_path}"

[authenticator]
auth_type = "UnixPeerCredentials"

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "{state}/kim-mappings.sqlite3"

[[provider]]
name = "mbed-crypto-provider"
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
"""


@contextmanager
def parsec_service(bundle, sleep_ms):
    """Runs Parsec from the bundle in a temporary directory; yields its socket and the unpacked
    bundle; always stops it."""
    with ExitStack() as stack:
        # Under /tmp: a unix socket path must fit in 108 bytes.
        work = Path(tempfile.mkdtemp(prefix="parsec-bench.", dir="/tmp"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        work.chmod(0o755)
        socket_path, state, config = work / "run" / "parsec.sock", work / "state", work / "config.toml"
        # As Debian's tmpfiles and upstream have them: anyone may reach the socket, the state is private.
        for directory, mode in ((socket_path.parent, 0o755), (state, 0o700)):
            directory.mkdir(mode=mode)
            shutil.chown(directory, "parsec", "parsec")
        with tarfile.open(bundle) as tar:
            tar.extractall(work / "bundle", filter="data")
        config.write_text(CONFIG.format(sleep_ms=sleep_ms, socket_path=socket_path, state=state))
        config.chmod(0o644)
        log = stack.enter_context(open(work / "parsec.log", "wb"))
        service = subprocess.Popen(
            [
                "setpriv",
                "--reuid=parsec",
                "--regid=parsec",
                "--init-groups",
                work / "bundle/bin/parsec",
                "--config",
                config,
            ],
            # MbedCrypto keeps key material in the working directory.
            cwd=state,
            env=dict(os.environ, LD_LIBRARY_PATH=str(work / "bundle/lib")),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop, service)
        wait_for_socket(service, socket_path, work / "parsec.log")
        yield socket_path, work / "bundle"


def wait_for_socket(service, socket_path, log_path):
    deadline = time.monotonic() + 10
    while not socket_path.is_socket():
        if service.poll() is not None:
            sys.exit(f"Parsec exited at start:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            sys.exit(f"Parsec did not create {socket_path} within 10 s:\n{log_path.read_text()}")
        time.sleep(0.05)


def stop(service):
    service.terminate()
    try:
        service.wait(timeout=10)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()


def prepare(socket_path, bundle_dir):
    """Makes the signing key and the bare socket's requests, checked once with the client."""
    client = ParsecClient(f"unix:{socket_path}", timeout=CALL_TIMEOUT)
    client.generate_key(KEY_NAME, KeyAttributes("ecc_key_pair", 256, "secp_r1", SIGN_USAGE, ecdsa()))
    sign_body = encode_sign_hash(KEY_NAME, ecdsa(), DIGEST)
    requests = {
        "ping": (Opcode.PING, encode_request(Opcode.PING)),
        "sign_hash": (
            Opcode.PSA_SIGN_HASH,
            encode_request(Opcode.PSA_SIGN_HASH, sign_body, client.provider_id, client.auth),
        ),
    }
    for opcode, request in requests.values():
        # The bare socket validates nothing: make sure once that what it sends succeeds.
        client.round_trip(request, opcode)
    return Target(
        str(socket_path),
        str(bundle_dir / "bin/parsec-tool"),
        str(bundle_dir / "lib"),
        {operation: prebuilt[1] for operation, prebuilt in requests.items()},
    )


# ---------------------------------------------------------------------------------------------
# One round trip per method; each factory returns a function making one round trip


def our_client_call(target, operation):
    client = ParsecClient("unix:" + target.socket_path, timeout=CALL_TIMEOUT)
    if operation == "ping":
        return client.ping
    return functools.partial(client.sign_hash, KEY_NAME, ecdsa(), DIGEST)


def bare_socket_call(target, operation):
    path, request = target.socket_path, target.requests[operation]

    def round_trip():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(request)
            while sock.recv(4096):
                pass

    return round_trip


def parsec_tool_call(target, operation):
    args = ["ping"] if operation == "ping" else ["sign", "--key-name", KEY_NAME, MESSAGE.decode()]
    environment = dict(
        os.environ,
        PARSEC_SERVICE_ENDPOINT="unix:" + target.socket_path,
        LD_LIBRARY_PATH=target.lib_dir,
        RUST_LOG="error",
    )

    def run():
        done = subprocess.run(
            [target.tool, *args], env=environment, capture_output=True, timeout=CALL_TIMEOUT, check=False
        )
        if done.returncode:
            raise RuntimeError(f"parsec-tool {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")

    return run


CALLS = {OUR_CLIENT: our_client_call, BARE_SOCKET: bare_socket_call, PARSEC_TOOL: parsec_tool_call}


def worker(target, operation, start, slices):
    """Takes turns with the methods, one SLICE each from `start`; returns method -> [calls, seconds]."""
    calls = {method: CALLS[method](target, operation) for method in METHODS}
    for call in calls.values():
        call()  # warm-up, outside the timing
    totals = {method: [0, 0.0] for method in METHODS}
    for number in range(slices):
        method = SLICE_ORDERS[number // len(METHODS) % 2][number % len(METHODS)]
        time.sleep(max(0.0, start + number * SLICE - time.monotonic()))
        call, end, began, count = calls[method], start + (number + 1) * SLICE, time.monotonic(), 0
        # A call running past the slice's end delays the next slice, whose own time is then shorter.
        while count < MAX_CALLS[method] and time.monotonic() < end:
            call()
            count += 1
        totals[method][0] += count
        totals[method][1] += time.monotonic() - began
    return totals


def measure(pool, target, operation, clients, seconds):
    """Method -> aggregate round trips per second of `clients` concurrent workers."""
    slices = len(METHODS) * max(1, round(seconds / SLICE))
    start = time.monotonic() + START_DELAY
    jobs = [pool.apply_async(worker, (target, operation, start, slices)) for _client in range(clients)]
    # Generous, but bounded even if the service hangs under the bare socket.
    totals = [job.get(timeout=START_DELAY + slices * SLICE + 6 * CALL_TIMEOUT) for job in jobs]
    return {method: sum(_rate(*worker_totals[method]) for worker_totals in totals) for method in METHODS}


def _rate(calls, seconds):
    return calls / seconds if seconds else 0.0


# ---------------------------------------------------------------------------------------------
# Report


def rate_text(rate):
    return f"{rate:.0f}" if rate >= 100 else f"{rate:.1f}"


def table(results):
    rows = [
        "| idle sleep | operation | clients | our client (req/s) | bare socket (req/s) | parsec-tool (cmd/s) "
        "| client / bare | client / parsec-tool |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (sleep_ms, operation, clients), rates in results.items():
        ours, bare, tool = (rates[method] for method in METHODS)
        rows.append(
            f"| {sleep_ms} ms | {operation} | {clients} | {rate_text(ours)} | {rate_text(bare)} | {rate_text(tool)} "
            f"| {ours / bare:.0%} | {ours / tool:.1f}x |"
        )
    return rows


def verdict(results):
    ratios = {case: rates[OUR_CLIENT] / rates[BARE_SOCKET] for case, rates in results.items()}
    speedups = {operation: [] for operation in OPERATIONS}
    for (_sleep, operation, _clients), rates in results.items():
        speedups[operation].append(rates[OUR_CLIENT] / rates[PARSEC_TOOL])
    slow = [
        f"{ms} ms {operation} with {clients} client(s) ({ratio:.0%})"
        for (ms, operation, clients), ratio in ratios.items()
        if ratio < TARGET_RATIO
    ]
    span = f"{min(ratios.values()):.0%} to {max(ratios.values()):.0%} of the bare-socket rate"
    within = (
        f"Our client is within 10% of the bare socket in every case ({span})."
        if not slow
        else f"Our client is NOT within 10% of the bare socket in: {', '.join(slow)} ({span})."
    )
    ahead = " and ".join(f"{_span(speedups[operation])} times as many {operation} calls" for operation in OPERATIONS)
    return [within, f"Against parsec-tool our client makes {ahead} per second."]


def _span(values):
    return f"{min(values):.1f} to {max(values):.1f}"


def shown(path):
    path = Path(path)
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def report(results, bundle, seconds, load):
    command = shlex.join([shown(sys.executable), shown(Path(sys.argv[0]).resolve()), *sys.argv[1:]])
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = table(results)
    lines = [
        f"Command (as root): `{command}` ({when}, {platform.node()}, {platform.machine()}, {bundle.name}).",
        "",
        "Real Parsec service (MbedCrypto provider, SQLite key-info manager, UnixPeerCredentials), ECDSA P-256 "
        "signing of a SHA-256 digest, one connection per request. Clients are forked processes (4 clients: "
        f"4 processes). Each case gives every method {seconds:g} s in {SLICE:g} s slices, the three "
        "methods taking turns, all clients switching together, so that other load on the machine meets them "
        f"alike; load average at the start {load:.1f}. parsec-tool counts commands: one process each, and "
        "`sign` makes several requests.",
        "",
        *rows,
        "",
        *verdict(results),
    ]
    write_section(SECTION, lines)
    print("\n".join(lines[lines.index(rows[0]) :]))


# ---------------------------------------------------------------------------------------------


def run_cases(pool, bundle, seconds):
    results = {}
    for sleep_ms in SLEEPS_MS:
        with parsec_service(bundle, sleep_ms) as (socket_path, bundle_dir):
            target = prepare(socket_path, bundle_dir)
            for operation in OPERATIONS:
                for clients in CONCURRENCY:
                    rates = measure(pool, target, operation, clients, seconds)
                    results[sleep_ms, operation, clients] = rates
                    shown_rates = ", ".join(f"{method} {rate_text(rate)}/s" for method, rate in rates.items())
                    print(f"{sleep_ms} ms, {operation}, {clients} client(s): {shown_rates}", flush=True)
    return results


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time per method and case (1-20 s)")
    parser.add_argument("--bundle", default=os.environ.get("PARSEC_BUNDLE"), help="Parsec bundle tarball")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 20:
        parser.error("keep it bounded: --seconds 1-20")
    return args


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the service runs as the user parsec, started with setpriv")
    try:
        pwd.getpwnam("parsec")
    except KeyError:
        sys.exit("the system user parsec is missing (tests/integration/parsec/run-local.sh creates it)")
    bundle = find_bundle(args.bundle)
    load = os.getloadavg()[0]  # another user's load skews the numbers: the report says how much
    # Forked once, before any thread exists, and reused by every case.
    pool = multiprocessing.get_context("fork").Pool(max(CONCURRENCY))
    # A plain `kill` unwinds like Ctrl-C, so the service is stopped and the pool ended.
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(143))
    try:
        results = run_cases(pool, bundle, args.seconds)
    finally:
        pool.terminate()
    report(results, bundle, args.seconds, load)


if __name__ == "__main__":
    main()
