"""ParsecClient against a fake service on a temporary unix socket that answers with bytes."""

from __future__ import annotations

import os
import socket
import struct

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.client import (
    ParsecClient,
    _use_kernel_timeouts,
    direct_auth,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.codes import STATUS_NAMES
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.errors import (
    ParsecConnectionError,
    ParsecError,
    ParsecPermissionError,
    ParsecProtocolError,
    ParsecSocketNotFoundError,
    ParsecStatusError,
    ParsecTimeoutError,
    ParsecTruncatedResponseError,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.keys import (
    SIGN_USAGE,
    KeyAttributes,
    ecdsa,
    rsa_oaep,
    rsa_pss,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.operations import encode_generate_key


def client_for(server, **options) -> ParsecClient:
    return ParsecClient(endpoint=server.endpoint, **options)


def test_ping_sends_the_no_auth_vector_and_reads_the_version(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(1, bytes.fromhex("0801")))
    assert client_for(server).ping() == (1, 0)
    (request,) = server.requests
    assert (request.opcode, request.provider, request.auth_type, request.body, request.auth) == (1, 0, 0, b"", b"")


def test_one_connection_per_request(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(1, bytes.fromhex("0801")))
    client = client_for(server)
    client.ping()
    client.ping()
    assert server.connections == 2


def test_crypto_calls_go_to_the_first_listed_provider_with_peer_credentials(fake_parsec, wire):
    answers = {8: wire.LIST_PROVIDERS_BODY, 7: wire.field_bytes(1, b"\x04" + b"\x01" * 64)}
    server = fake_parsec(
        lambda request: wire.response(request.opcode, answers[request.opcode], provider=request.provider)
    )
    client = client_for(server)
    assert client.export_public_key("k") == b"\x04" + b"\x01" * 64
    assert client.export_public_key("k")
    assert [r.opcode for r in server.requests] == [8, 7, 7]  # providers asked once per client
    export = server.requests[1]
    assert (export.provider, export.auth_type, export.auth) == (1, 3, struct.pack("<I", os.geteuid()))
    assert export.body == bytes.fromhex("0a016b")


def test_provider_given_by_name_skips_the_lookup(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(request.opcode, provider=request.provider))
    client_for(server, provider="tpm").destroy_key("k")
    assert [(r.opcode, r.provider) for r in server.requests] == [(3, 3)]


def test_direct_auth_sends_the_application_name(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(request.opcode, b""))
    assert client_for(server, auth=direct_auth("agent")).list_keys() == []
    (request,) = server.requests
    assert (request.auth_type, request.auth) == (1, b"agent")


def test_sign_then_verify_bodies_reach_the_service(fake_parsec, wire):
    def answer(request):
        body = wire.field_bytes(1, b"\x01" * 64) if request.opcode == 4 else b""
        return wire.response(request.opcode, body, provider=1)

    server = fake_parsec(answer)
    client = client_for(server, provider=1)
    signature = client.sign_hash("k", ecdsa(), b"\x00" * 32)
    client.verify_hash("k", ecdsa(), b"\x00" * 32, signature)
    assert wire.parse_fields(server.requests[1].body)[4] == b"\x01" * 64


def test_encrypt_and_decrypt_return_the_data_field(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(request.opcode, wire.field_bytes(1, b"out"), provider=1))
    client = client_for(server, provider=1)
    assert client.asymmetric_encrypt("r", rsa_oaep(), b"in") == b"out"
    assert client.asymmetric_decrypt("r", rsa_oaep(), b"in") == b"out"
    assert [r.opcode for r in server.requests] == [0x0A, 0x0B]


def test_list_opcodes_asks_for_the_given_provider(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(9, bytes.fromhex("0a020203")))
    assert client_for(server).list_opcodes(1) == [2, 3]
    assert server.requests[0].body == bytes.fromhex("0801")


def test_find_key_matches_name_and_provider(fake_parsec, wire):
    attributes = wire.parse_fields(
        encode_generate_key("k", KeyAttributes("rsa_key_pair", 2048, None, SIGN_USAGE, rsa_pss()))
    )[2]

    def key(provider_id, name):
        return wire.field_bytes(
            1, wire.field_varint(1, provider_id) + wire.field_bytes(2, name) + wire.field_bytes(3, attributes)
        )

    keys = key(3, b"k") + key(1, b"other") + key(1, b"k")
    server = fake_parsec(lambda request: wire.response(request.opcode, keys))
    found = client_for(server, provider=1).find_key("k")
    assert (found.name, found.provider_id, found.attributes.bits) == ("k", 1, 2048)
    assert client_for(server, provider=2).find_key("k") is None


def test_no_crypto_provider_is_an_error(fake_parsec, wire):
    core_only = wire.field_bytes(1, wire.field_bytes(1, b"core-uuid") + wire.field_varint(7, 0))
    server = fake_parsec(lambda request: wire.response(8, core_only))
    with pytest.raises(ParsecError, match="no cryptographic provider"):
        client_for(server).generate_key("k", KeyAttributes("ecc_key_pair", 256, "secp_r1", SIGN_USAGE))


# The table itself is checked against the reference in test_parsec_wire.py.
@pytest.mark.parametrize("status, name", sorted(STATUS_NAMES.items())[1:])
def test_every_status_is_raised_with_name_and_number(fake_parsec, wire, status, name):
    server = fake_parsec(lambda request: wire.response(request.opcode, status=status))
    with pytest.raises(ParsecStatusError) as raised:
        client_for(server).ping()
    assert (raised.value.status, raised.value.status_name, raised.value.opcode) == (status, name, 1)
    assert "{} ({})".format(name, status) in str(raised.value)


def test_unknown_status_still_carries_its_number(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(request.opcode, status=999))
    with pytest.raises(ParsecStatusError, match=r"UnknownStatus \(999\)"):
        client_for(server).ping()


def test_unreadable_request_answer_reports_the_status_not_an_opcode_mismatch(fake_parsec, wire):
    # The service answers a request it cannot read with opcode Ping, provider 0 and the status.
    server = fake_parsec(lambda request: wire.response(1, status=17))
    with pytest.raises(ParsecStatusError, match="PsaDestroyKey: InvalidHeader"):
        client_for(server, provider=1).destroy_key("k")


def test_status_hint_explains_the_fix(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(request.opcode, status=1153))
    with pytest.raises(ParsecStatusError, match="WorkingDirectory"):
        client_for(server, provider=1).generate_key("k", KeyAttributes("ecc_key_pair", 256, "secp_r1"))


@pytest.mark.parametrize(
    "fields, error, message",
    [
        ({"magic": 0x5EC0A711}, ParsecProtocolError, "magic"),
        ({"reserved": 0x0100}, ParsecProtocolError, "reserved"),
        ({"header_size": 32}, ParsecProtocolError, "header size"),
        ({"version": (2, 0)}, ParsecProtocolError, "wire protocol 2.0"),
        ({"opcode": 8}, ParsecProtocolError, "opcode ListProviders to a Ping request"),
        ({"content_type": 1}, ParsecProtocolError, "content type"),
        ({"body_length": 5}, ParsecTruncatedResponseError, "body truncated.* 2 of 5"),
        ({"body_length": 1 << 30}, ParsecProtocolError, "implausible"),
    ],
)
def test_malformed_responses(fake_parsec, wire, fields, error, message):
    answer = wire.response(**dict({"opcode": 1, "body": bytes.fromhex("0801")}, **fields))
    server = fake_parsec(lambda request: answer)
    with pytest.raises(error, match=message):
        client_for(server).ping()


def test_truncated_header(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(1)[:20])
    with pytest.raises(ParsecTruncatedResponseError, match=r"header truncated.* 20 of 36"):
        client_for(server).ping()


def test_connection_closed_without_answer(fake_parsec):
    server = fake_parsec(lambda request: b"")
    with pytest.raises(ParsecTruncatedResponseError, match="0 of 36"):
        client_for(server).ping()


def test_garbage_body_is_a_protocol_error(fake_parsec, wire):
    server = fake_parsec(lambda request: wire.response(1, b"\x0a\x09"))
    with pytest.raises(ParsecProtocolError, match="past the end"):
        client_for(server).ping()


def test_silent_service_times_out_instead_of_hanging(fake_parsec):
    server = fake_parsec(lambda request: None)
    with pytest.raises(ParsecTimeoutError, match="did not answer Ping"):
        client_for(server, timeout=0.2).ping()


def test_missing_socket_names_the_path(socket_dir):
    path = os.path.join(socket_dir, "absent.sock")
    with pytest.raises(ParsecSocketNotFoundError, match="{} does not exist".format(path)) as raised:
        ParsecClient(endpoint="unix:" + path).ping()
    assert raised.value.path == path


def test_stale_socket_says_the_service_is_not_running(socket_dir):
    path = os.path.join(socket_dir, "stale.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.close()  # the file stays, nobody listens
    with pytest.raises(ParsecConnectionError, match="not running"):
        ParsecClient(endpoint="unix:" + path).ping()


def test_permission_denied_names_the_path_and_who_may_connect(fake_parsec, wire, socket_dir):
    """Run in a child as 'nobody' (root ignores permissions); the socket directory is 0700 root."""
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another user")
    server = fake_parsec(lambda request: wire.response(1, bytes.fromhex("0801")))
    os.chmod(socket_dir, 0o700)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - child process
        os.close(read_end)
        try:
            os.setgid(65534)
            os.setuid(65534)
            ParsecClient(endpoint=server.endpoint).ping()
            message = "connected"
        except ParsecPermissionError as error:
            message = str(error)
        except BaseException as error:
            message = repr(error)
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(child, 0)
    assert "permission denied connecting to the Parsec socket {}".format(server.path) in message
    assert "{} is root:root mode 0700, so only root may connect".format(socket_dir) in message


class _SocketWithoutKernelTimeouts(socket.socket):
    """A socket whose SO_RCVTIMEO/SO_SNDTIMEO cannot be set (as on some 32-bit systems)."""

    def setsockopt(self, *args):
        raise OSError("setsockopt refused")


def test_kernel_timeouts_replace_python_timeouts():
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.25)
        _use_kernel_timeouts(sock, 0.25)
        assert sock.gettimeout() is None  # blocking: the kernel bounds each call now
        timeval = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize("@ll"))
        seconds, microseconds = struct.unpack("@ll", timeval)
        assert 0.25 <= seconds + microseconds / 1e6 < 0.3  # the kernel rounds up to its clock tick


def test_python_timeouts_stay_when_kernel_timeouts_cannot_be_set():
    with _SocketWithoutKernelTimeouts(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.25)
        _use_kernel_timeouts(sock, 0.25)
        assert sock.gettimeout() == 0.25
