"""Fakes for the Parsec unit tests: a unix-socket server that answers with bytes.

The wire format here is written out independently of plugins/module_utils/parsec/, so the tests
compare the client with a second reading of the specification, not with itself.
"""

from __future__ import annotations

import os
import socket
import struct
import tempfile
import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, List, Optional

import pytest

HEADER = struct.Struct("<IHBBHBQBBBIHIHH")
MAGIC = 0x5EC0A710


@dataclass
class Request:
    provider: int
    session: int
    auth_type: int
    opcode: int
    body: bytes
    auth: bytes


def response(
    opcode: int,
    body: bytes = b"",
    status: int = 0,
    provider: int = 0,
    magic: int = MAGIC,
    header_size: int = 30,
    version: tuple = (1, 0),
    reserved: int = 0,
    body_length: Optional[int] = None,
    content_type: int = 0,
) -> bytes:
    """A response as the service writes it, with every field overridable to make it malformed."""
    length = len(body) if body_length is None else body_length
    header = HEADER.pack(
        magic,
        header_size,
        version[0],
        version[1],
        0,
        provider,
        0,
        content_type,
        0,
        0,
        length,
        0,
        opcode,
        status,
        reserved,
    )
    return header + body


def read_exact(connection: socket.socket, length: int) -> bytes:
    data = b""
    while len(data) < length:
        chunk = connection.recv(length - len(data))
        if not chunk:
            raise EOFError("client closed the connection early")
        data += chunk
    return data


def read_request(connection: socket.socket) -> Request:
    fields = HEADER.unpack(read_exact(connection, HEADER.size))
    provider, session, auth_type, body_length, auth_length, opcode = (
        fields[5],
        fields[6],
        fields[9],
        fields[10],
        fields[11],
        fields[12],
    )
    body = read_exact(connection, body_length)
    auth = read_exact(connection, auth_length)
    return Request(provider, session, auth_type, opcode, body, auth)


class FakeParsec:
    """Serves one request per connection; `handler(request)` returns the bytes to answer (None: hang up)."""

    def __init__(self, path: str, handler: Callable[[Request], Optional[bytes]]):
        self.path = path
        self.handler = handler
        self.requests: List[Request] = []
        self.connections = 0
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return "unix:" + self.path

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection = self._server.accept()[0]
            except OSError:
                return
            self.connections += 1
            with connection:
                try:
                    request = read_request(connection)
                except EOFError:
                    continue
                self.requests.append(request)
                answer = self.handler(request)
                if answer is None:
                    self._stop.wait()  # keep the connection open and silent until the test ends
                else:
                    connection.sendall(answer)

    def close(self) -> None:
        self._stop.set()
        try:  # wake the thread blocked in accept(): closing the socket does not
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as waker:
                waker.connect(self.path)
        except OSError:
            pass
        self._server.close()
        self._thread.join(timeout=5)


@pytest.fixture
def socket_dir():
    # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="parsec-") as directory:
        yield directory


@pytest.fixture
def fake_parsec(socket_dir):
    """Factory: fake_parsec(handler) starts a fake service on a temporary socket."""
    servers = []

    def start(handler: Callable[[Request], Optional[bytes]]) -> FakeParsec:
        server = FakeParsec(os.path.join(socket_dir, "parsec-{}.sock".format(len(servers))), handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


# Minimal protobuf helpers for building service answers in tests.


def varint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes((byte | 0x80,))
        else:
            return out + bytes((byte,))


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def parse_fields(data: bytes) -> dict:
    """Field number -> last value (int or bytes); enough to read the client's requests."""
    fields = {}
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        if key & 7 == 0:
            value, position = _read_varint(data, position)
        else:
            length, position = _read_varint(data, position)
            value, position = data[position : position + length], position + length
        fields[key >> 3] = value
    return fields


def _read_varint(data: bytes, position: int):
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


MBED_CRYPTO_INFO = (
    field_bytes(1, b"1c1139dc-ad7c-47dc-ad6b-db6fdb466552")
    + field_bytes(2, b"User space software provider, based on Mbed Crypto")
    + field_bytes(3, b"Arm")
    + field_varint(5, 1)
    + field_varint(7, 1)
)
CORE_INFO = (
    field_bytes(1, b"47049873-2a43-4845-9d72-831eab668784")
    + field_bytes(2, b"Software provider that implements only administrative operations")
    + field_varint(4, 1)
    + field_varint(5, 4)
    + field_varint(6, 1)
)
LIST_PROVIDERS_BODY = field_bytes(1, MBED_CRYPTO_INFO) + field_bytes(1, CORE_INFO)


@pytest.fixture
def wire():
    """The helpers above, for tests (conftest modules are not meant to be imported)."""
    return SimpleNamespace(
        response=response,
        varint=varint,
        field_varint=field_varint,
        field_bytes=field_bytes,
        parse_fields=parse_fields,
        LIST_PROVIDERS_BODY=LIST_PROVIDERS_BODY,
    )
