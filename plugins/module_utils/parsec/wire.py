# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Parsec's wire format: the fixed request and response headers, and the minimal protobuf (proto3)
codec the operation bodies are written in.

Facts from the Parsec book (wire protocol) and parsec-interface-rs (header layout and byte vectors).
The field numbers are named where each message is encoded: keys.py and operations.py.
"""

import struct
from dataclasses import dataclass
from typing import Dict, List, Tuple, Union

from .codes import AuthType, opcode_name
from .errors import ParsecProtocolError, ParsecStatusError, ParsecTruncatedResponseError

WIRE_MAGIC = 0x5EC0A710
WIRE_HEADER_SIZE = 30  # the header's size field counts the bytes after magic and itself
WIRE_VERSION = (1, 0)
CONTENT_TYPE_PROTOBUF = 0
# magic, header size, major, minor, flags, provider, session, content type, accept type,
# auth type, body length, auth length, opcode, status, reserved
_HEADER = struct.Struct("<IHBBHBQBBBIHIHH")
HEADER_LENGTH = _HEADER.size
# Far above the service's default 1 MiB body limit: only guards against a garbage length.
MAX_RESPONSE_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Auth:
    """Authentication bytes sent after the body of a request."""

    auth_type: int
    payload: bytes = b""


NO_AUTH = Auth(AuthType.NO_AUTH)


def encode_request(
    opcode: int, body: bytes = b"", provider_id: int = 0, auth: Auth = NO_AUTH, session: int = 0
) -> bytes:
    """A complete request: header, body, authentication."""
    header = _HEADER.pack(
        WIRE_MAGIC,
        WIRE_HEADER_SIZE,
        WIRE_VERSION[0],
        WIRE_VERSION[1],
        0,
        provider_id,
        session,
        CONTENT_TYPE_PROTOBUF,
        CONTENT_TYPE_PROTOBUF,
        auth.auth_type,
        len(body),
        len(auth.payload),
        opcode,
        0,
        0,
    )
    return header + body + auth.payload


@dataclass(frozen=True)
class ResponseHeader:
    provider_id: int
    session: int
    content_type: int
    body_length: int
    opcode: int
    status: int


def decode_response_header(data: bytes) -> ResponseHeader:
    """Parse and validate the fixed 36-byte response header."""
    if len(data) != HEADER_LENGTH:
        raise ParsecTruncatedResponseError(
            "Parsec response header is {} bytes, expected {}".format(len(data), HEADER_LENGTH)
        )
    (
        magic,
        header_size,
        major,
        minor,
        _flags,
        provider_id,
        session,
        content_type,
        _accept_type,
        _auth_type,
        body_length,
        _auth_length,
        opcode,
        status,
        reserved,
    ) = _HEADER.unpack(data)
    if magic != WIRE_MAGIC:
        raise ParsecProtocolError(
            "not a Parsec response: magic 0x{:08X}, expected 0x{:08X} "
            "(is the endpoint really the Parsec socket?)".format(magic, WIRE_MAGIC)
        )
    if header_size != WIRE_HEADER_SIZE:
        raise ParsecProtocolError("Parsec response header size is {}, expected 30".format(header_size))
    if (major, minor) != WIRE_VERSION:
        raise ParsecProtocolError(
            "Parsec response uses wire protocol {}.{}, this client speaks {}.{}".format(major, minor, *WIRE_VERSION)
        )
    if reserved:
        raise ParsecProtocolError("Parsec response has non-zero reserved bytes (0x{:04X})".format(reserved))
    return ResponseHeader(provider_id, session, content_type, body_length, opcode, status)


def check_response_header(header: ResponseHeader, opcode: int) -> None:
    # A request the service could not read gets status with opcode Ping and provider 0: the
    # status is the real news, so check it before the echo.
    if header.status:
        raise ParsecStatusError(header.status, opcode)
    if header.opcode != opcode:
        raise ParsecProtocolError(
            "Parsec answered opcode {} to a {} request".format(opcode_name(header.opcode), opcode_name(opcode))
        )
    if header.content_type != CONTENT_TYPE_PROTOBUF:
        raise ParsecProtocolError("Parsec response content type is {}, not protobuf (0)".format(header.content_type))
    if header.body_length > MAX_RESPONSE_BODY:
        raise ParsecProtocolError("Parsec response announces an implausible {} byte body".format(header.body_length))


# ---------------------------------------------------------------------------------------------
# Minimal protobuf (proto3) encoding: varints and length-delimited fields only

_WIRE_VARINT = 0
_WIRE_FIXED64 = 1
_WIRE_LENGTH = 2
_WIRE_FIXED32 = 5


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("protobuf unsigned fields cannot hold {}".format(value))
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def uint_field(number: int, value: int) -> bytes:
    """A scalar outside a oneof: proto3 leaves zero off the wire."""
    return _varint(number << 3) + _varint(value) if value else b""


def oneof_uint_field(number: int, value: int) -> bytes:
    """A scalar that is a oneof member: on the wire even when zero."""
    return _varint(number << 3) + _varint(value)


def message_field(number: int, payload: bytes) -> bytes:
    """A sub-message: always on the wire, even empty, because the service rejects missing ones."""
    length = len(payload)
    if number < 16 and length < 0x80:  # one-byte key and length (nearly every field we send): no _varint calls
        return bytes((number << 3 | _WIRE_LENGTH, length)) + payload
    return _varint(number << 3 | _WIRE_LENGTH) + _varint(length) + payload


def bytes_field(number: int, payload: bytes) -> bytes:
    return message_field(number, payload) if payload else b""


def string_field(number: int, text: str) -> bytes:
    return bytes_field(number, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Minimal protobuf (proto3) decoding

ProtoValue = Union[int, bytes]


def _read_varint(data: bytes, position: int) -> Tuple[int, int]:
    result = 0
    shift = 0
    end = len(data)
    while position < end:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ParsecProtocolError("malformed protobuf in response: varint longer than 10 bytes")
    raise ParsecProtocolError("malformed protobuf in response: truncated varint")


def parse_message(data: bytes) -> Dict[int, List[ProtoValue]]:
    """Field number -> values in wire order (a later scalar overrides an earlier one)."""
    fields: Dict[int, List[ProtoValue]] = {}
    position = 0
    end = len(data)
    while position < end:
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ParsecProtocolError("malformed protobuf in response: field number 0")
        if wire_type == _WIRE_VARINT:
            value, position = _read_varint(data, position)
        elif wire_type == _WIRE_LENGTH:
            length, position = _read_varint(data, position)
            value, position = _take(data, position, length)
        elif wire_type == _WIRE_FIXED64:
            value, position = _take(data, position, 8)
        elif wire_type == _WIRE_FIXED32:
            value, position = _take(data, position, 4)
        else:
            raise ParsecProtocolError("malformed protobuf in response: wire type {}".format(wire_type))
        fields.setdefault(number, []).append(value)
    return fields


def _take(data: bytes, position: int, length: int) -> Tuple[bytes, int]:
    end = position + length
    if end > len(data):
        raise ParsecProtocolError("malformed protobuf in response: field runs past the end of its message")
    return bytes(data[position:end]), end


def get_uint(fields: Dict[int, List[ProtoValue]], number: int, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise ParsecProtocolError("malformed protobuf in response: field {} is not a varint".format(number))
    return value


def get_bytes(fields: Dict[int, List[ProtoValue]], number: int) -> bytes:
    values = fields.get(number)
    if not values:
        return b""
    value = values[-1]
    if not isinstance(value, bytes):
        raise ParsecProtocolError("malformed protobuf in response: field {} is not length-delimited".format(number))
    return value


def get_text(fields: Dict[int, List[ProtoValue]], number: int) -> str:
    try:
        return get_bytes(fields, number).decode("utf-8")
    except UnicodeDecodeError:
        raise ParsecProtocolError("malformed protobuf in response: field {} is not UTF-8".format(number)) from None


def get_messages(fields: Dict[int, List[ProtoValue]], number: int) -> List[bytes]:
    values = fields.get(number, [])
    if not all(isinstance(value, bytes) for value in values):
        raise ParsecProtocolError("malformed protobuf in response: field {} is not a message".format(number))
    return values


def get_uints(fields: Dict[int, List[ProtoValue]], number: int) -> List[int]:
    """A repeated uint32: packed (proto3's default) or not."""
    result = []
    for value in fields.get(number, []):
        if isinstance(value, int):
            result.append(value)
            continue
        position = 0
        while position < len(value):
            item, position = _read_varint(value, position)
            result.append(item)
    return result


def oneof_variant(fields: Dict[int, List[ProtoValue]]) -> Tuple[int, ProtoValue]:
    if len(fields) != 1:
        raise ParsecProtocolError("malformed protobuf in response: a oneof holds {} variants".format(len(fields)))
    ((number, values),) = fields.items()
    return number, values[-1]
