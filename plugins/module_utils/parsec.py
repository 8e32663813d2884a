# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The project's one client for the Parsec security service's wire protocol.

Standard library only and Python >= 3.8: Ansible modules ship it to any node, and the node
services import it too. Wire facts (header layout, status codes, protobuf field numbers) follow
the Parsec book, parsec-interface-rs and parsec-operations.

Usage::

    client = ParsecClient()                      # PARSEC_SERVICE_ENDPOINT or /run/parsec/parsec.sock
    client.generate_key("node", KeyAttributes("ecc_key_pair", 256, "secp_r1", SIGN_USAGE, ecdsa()))
    signature = client.sign_hash("node", ecdsa(), hashlib.sha256(data).digest())
"""

from __future__ import annotations

import base64
import enum
import functools
import grp
import math
import os
import pwd
import socket
import stat
import struct
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple, Union

ENDPOINT_ENV = "PARSEC_SERVICE_ENDPOINT"
DEFAULT_SOCKET_PATH = "/run/parsec/parsec.sock"
# RSA-4096 generation in software on a small Arm board takes tens of seconds.
DEFAULT_TIMEOUT = 60.0

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


class Opcode(enum.IntEnum):
    PING = 0x01
    PSA_GENERATE_KEY = 0x02
    PSA_DESTROY_KEY = 0x03
    PSA_SIGN_HASH = 0x04
    PSA_VERIFY_HASH = 0x05
    PSA_IMPORT_KEY = 0x06
    PSA_EXPORT_PUBLIC_KEY = 0x07
    LIST_PROVIDERS = 0x08
    LIST_OPCODES = 0x09
    PSA_ASYMMETRIC_ENCRYPT = 0x0A
    PSA_ASYMMETRIC_DECRYPT = 0x0B
    PSA_EXPORT_KEY = 0x0C
    PSA_GENERATE_RANDOM = 0x0D
    LIST_AUTHENTICATORS = 0x0E
    PSA_HASH_COMPUTE = 0x0F
    PSA_HASH_COMPARE = 0x10
    PSA_AEAD_ENCRYPT = 0x11
    PSA_AEAD_DECRYPT = 0x12
    PSA_RAW_KEY_AGREEMENT = 0x13
    PSA_CIPHER_ENCRYPT = 0x14
    PSA_CIPHER_DECRYPT = 0x15
    PSA_SIGN_MESSAGE = 0x18
    PSA_VERIFY_MESSAGE = 0x19
    LIST_KEYS = 0x1A
    LIST_CLIENTS = 0x1B
    DELETE_CLIENT = 0x1C
    ATTEST_KEY = 0x1E
    PREPARE_KEY_ATTESTATION = 0x1F
    CAN_DO_CRYPTO = 0x20


OPCODE_NAMES = {
    Opcode.PING: "Ping",
    Opcode.PSA_GENERATE_KEY: "PsaGenerateKey",
    Opcode.PSA_DESTROY_KEY: "PsaDestroyKey",
    Opcode.PSA_SIGN_HASH: "PsaSignHash",
    Opcode.PSA_VERIFY_HASH: "PsaVerifyHash",
    Opcode.PSA_IMPORT_KEY: "PsaImportKey",
    Opcode.PSA_EXPORT_PUBLIC_KEY: "PsaExportPublicKey",
    Opcode.LIST_PROVIDERS: "ListProviders",
    Opcode.LIST_OPCODES: "ListOpcodes",
    Opcode.PSA_ASYMMETRIC_ENCRYPT: "PsaAsymmetricEncrypt",
    Opcode.PSA_ASYMMETRIC_DECRYPT: "PsaAsymmetricDecrypt",
    Opcode.PSA_EXPORT_KEY: "PsaExportKey",
    Opcode.PSA_GENERATE_RANDOM: "PsaGenerateRandom",
    Opcode.LIST_AUTHENTICATORS: "ListAuthenticators",
    Opcode.PSA_HASH_COMPUTE: "PsaHashCompute",
    Opcode.PSA_HASH_COMPARE: "PsaHashCompare",
    Opcode.PSA_AEAD_ENCRYPT: "PsaAeadEncrypt",
    Opcode.PSA_AEAD_DECRYPT: "PsaAeadDecrypt",
    Opcode.PSA_RAW_KEY_AGREEMENT: "PsaRawKeyAgreement",
    Opcode.PSA_CIPHER_ENCRYPT: "PsaCipherEncrypt",
    Opcode.PSA_CIPHER_DECRYPT: "PsaCipherDecrypt",
    Opcode.PSA_SIGN_MESSAGE: "PsaSignMessage",
    Opcode.PSA_VERIFY_MESSAGE: "PsaVerifyMessage",
    Opcode.LIST_KEYS: "ListKeys",
    Opcode.LIST_CLIENTS: "ListClients",
    Opcode.DELETE_CLIENT: "DeleteClient",
    Opcode.ATTEST_KEY: "AttestKey",
    Opcode.PREPARE_KEY_ATTESTATION: "PrepareKeyAttestation",
    Opcode.CAN_DO_CRYPTO: "CanDoCrypto",
}


def opcode_name(opcode: int) -> str:
    return OPCODE_NAMES.get(opcode, "0x{:02X}".format(opcode))


STATUS_NAMES = {
    0: "Success",
    1: "WrongProviderId",
    2: "ContentTypeNotSupported",
    3: "AcceptTypeNotSupported",
    4: "WireProtocolVersionNotSupported",
    5: "ProviderNotRegistered",
    6: "ProviderDoesNotExist",
    7: "DeserializingBodyFailed",
    8: "SerializingBodyFailed",
    9: "OpcodeDoesNotExist",
    10: "ResponseTooLarge",
    11: "AuthenticationError",
    12: "AuthenticatorDoesNotExist",
    13: "AuthenticatorNotRegistered",
    14: "KeyInfoManagerError",
    15: "ConnectionError",
    16: "InvalidEncoding",
    17: "InvalidHeader",
    18: "WrongProviderUuid",
    19: "NotAuthenticated",
    20: "BodySizeExceedsLimit",
    21: "AdminOperation",
    22: "DeprecatedPrimitive",
    1132: "PsaErrorGenericError",
    1133: "PsaErrorNotPermitted",
    1134: "PsaErrorNotSupported",
    1135: "PsaErrorInvalidArgument",
    1136: "PsaErrorInvalidHandle",
    1137: "PsaErrorBadState",
    1138: "PsaErrorBufferTooSmall",
    1139: "PsaErrorAlreadyExists",
    1140: "PsaErrorDoesNotExist",
    1141: "PsaErrorInsufficientMemory",
    1142: "PsaErrorInsufficientStorage",
    1143: "PsaErrorInsufficientData",
    1145: "PsaErrorCommunicationFailure",
    1146: "PsaErrorStorageFailure",
    1147: "PsaErrorHardwareFailure",
    1148: "PsaErrorInsufficientEntropy",
    1149: "PsaErrorInvalidSignature",
    1150: "PsaErrorInvalidPadding",
    1151: "PsaErrorCorruptionDetected",
    1152: "PsaErrorDataCorrupt",
    1153: "PsaErrorDataInvalid",
}

# What a user can do about the statuses people actually meet.
_STATUS_HINTS = {
    5: "the provider is not configured in the service: list them with parsec_info",
    11: "the identity sent does not match the connection: UnixPeerCredentials must carry the effective UID",
    13: "the service uses another authenticator: use Direct authentication (an application name) "
    "or UnixPeerCredentials as the service's [authenticator] section says",
    19: "this operation needs an identity: authenticate with UnixPeerCredentials or Direct",
    20: "the request is larger than the service's body_len_limit",
    1133: "the key's policy does not permit this operation or algorithm",
    1134: "the provider does not support this operation, algorithm or key type",
    1135: "the provider refused a parameter, such as a key size it does not offer "
    "(Parsec 1.4's MbedCrypto provider refuses P-384 and RSA-3072 keys)",
    1139: "a key with this name already exists for this client and provider",
    1140: "no key with this name exists for this client and provider",
    1149: "the signature does not match the hash and key",
    1153: "the service could not store key material: its working directory must be writable "
    "(for the Debian unit add WorkingDirectory=/var/lib/parsec)",
}


class ProviderId(enum.IntEnum):
    CORE = 0
    MBED_CRYPTO = 1
    PKCS11 = 2
    TPM = 3
    TRUSTED_SERVICE = 4
    CRYPTOAUTHLIB = 5


PROVIDER_NAMES = {
    ProviderId.CORE: "core",
    ProviderId.MBED_CRYPTO: "mbed-crypto",
    ProviderId.PKCS11: "pkcs11",
    ProviderId.TPM: "tpm",
    ProviderId.TRUSTED_SERVICE: "trusted-service",
    ProviderId.CRYPTOAUTHLIB: "cryptoauthlib",
}


class AuthType(enum.IntEnum):
    NO_AUTH = 0
    DIRECT = 1
    JWT = 2
    UNIX_PEER_CREDENTIALS = 3
    JWT_SVID = 4


AUTHENTICATOR_NAMES = {
    AuthType.NO_AUTH: "no-auth",
    AuthType.DIRECT: "direct",
    AuthType.JWT: "jwt",
    AuthType.UNIX_PEER_CREDENTIALS: "unix-peer-credentials",
    AuthType.JWT_SVID: "jwt-svid",
}


# ---------------------------------------------------------------------------------------------
# Errors


class ParsecError(Exception):
    """Base of every error raised by this client."""


class ParsecEndpointError(ParsecError):
    """The endpoint is not a usable unix: URI."""


class ParsecConnectionError(ParsecError):
    """The service could not be reached or dropped the connection."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


class ParsecSocketNotFoundError(ParsecConnectionError):
    pass


class ParsecPermissionError(ParsecConnectionError):
    pass


class ParsecTimeoutError(ParsecConnectionError):
    pass


class ParsecProtocolError(ParsecError):
    """The service's answer does not follow the wire protocol."""


class ParsecTruncatedResponseError(ParsecProtocolError):
    pass


class ParsecStatusError(ParsecError):
    """The service answered with a non-zero status."""

    def __init__(self, status: int, opcode: int):
        self.status = status
        self.status_name = STATUS_NAMES.get(status, "UnknownStatus")
        self.opcode = opcode
        message = "Parsec refused {}: {} ({})".format(opcode_name(opcode), self.status_name, status)
        hint = _STATUS_HINTS.get(status)
        super().__init__(message + ": " + hint if hint else message)


# ---------------------------------------------------------------------------------------------
# Endpoint and authentication


def socket_path_from_endpoint(endpoint: Optional[str] = None) -> str:
    """Socket path from an endpoint URI, else from PARSEC_SERVICE_ENDPOINT, else the default."""
    if not endpoint:
        endpoint = os.environ.get(ENDPOINT_ENV)
    if not endpoint:
        return DEFAULT_SOCKET_PATH
    scheme, separator, path = endpoint.partition(":")
    if not separator or scheme != "unix":
        raise ParsecEndpointError(
            "Parsec endpoint {!r} is not supported: only the unix scheme exists, "
            "e.g. unix:/run/parsec/parsec.sock".format(endpoint)
        )
    if path.startswith("///"):  # unix:///run/... is the same URI with an empty authority
        path = path[2:]
    if not path.startswith("/") or path.startswith("//"):
        raise ParsecEndpointError(
            "Parsec endpoint {!r} must name an absolute socket path, e.g. unix:/run/parsec/parsec.sock".format(endpoint)
        )
    return path


@dataclass(frozen=True)
class Auth:
    """Authentication bytes sent after the body of a request."""

    auth_type: int
    payload: bytes = b""


NO_AUTH = Auth(AuthType.NO_AUTH)


def unix_peer_credentials(uid: Optional[int] = None) -> Auth:
    """The service compares this UID with the socket's peer credentials, i.e. the effective UID."""
    return Auth(AuthType.UNIX_PEER_CREDENTIALS, struct.pack("<I", os.geteuid() if uid is None else uid))


def direct_auth(app_name: str) -> Auth:
    if not app_name:
        raise ValueError("Direct authentication needs a non-empty application name")
    return Auth(AuthType.DIRECT, app_name.encode("utf-8"))


def provider_id_from_name(provider: Union[int, str]) -> int:
    """Provider id from an id or a name such as 'mbed-crypto', 'MbedCrypto', 'tpm' or '3'."""
    if isinstance(provider, int):
        return provider
    text = str(provider).strip()
    if text.isdigit():
        return int(text)
    wanted = text.lower().replace("-", "").replace("_", "").replace(" ", "")
    for provider_id, name in PROVIDER_NAMES.items():
        if name.replace("-", "") == wanted:
            return int(provider_id)
    names = ", ".join(PROVIDER_NAMES.values())
    raise ValueError("unknown Parsec provider {!r}: use an id (0-255) or one of {}".format(provider, names))


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


def _uint_field(number: int, value: int) -> bytes:
    """A scalar outside a oneof: proto3 leaves zero off the wire."""
    return _varint(number << 3) + _varint(value) if value else b""


def _oneof_uint_field(number: int, value: int) -> bytes:
    """A scalar that is a oneof member: on the wire even when zero."""
    return _varint(number << 3) + _varint(value)


def _message_field(number: int, payload: bytes) -> bytes:
    """A sub-message: always on the wire, even empty, because the service rejects missing ones."""
    length = len(payload)
    if number < 16 and length < 0x80:  # one-byte key and length (nearly every field we send): no _varint calls
        return bytes((number << 3 | _WIRE_LENGTH, length)) + payload
    return _varint(number << 3 | _WIRE_LENGTH) + _varint(length) + payload


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _message_field(number, payload) if payload else b""


def _string_field(number: int, text: str) -> bytes:
    return _bytes_field(number, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Minimal protobuf decoding

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


def _parse_message(data: bytes) -> Dict[int, List[ProtoValue]]:
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


def _get_uint(fields: Dict[int, List[ProtoValue]], number: int, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise ParsecProtocolError("malformed protobuf in response: field {} is not a varint".format(number))
    return value


def _get_bytes(fields: Dict[int, List[ProtoValue]], number: int) -> bytes:
    values = fields.get(number)
    if not values:
        return b""
    value = values[-1]
    if not isinstance(value, bytes):
        raise ParsecProtocolError("malformed protobuf in response: field {} is not length-delimited".format(number))
    return value


def _get_text(fields: Dict[int, List[ProtoValue]], number: int) -> str:
    try:
        return _get_bytes(fields, number).decode("utf-8")
    except UnicodeDecodeError:
        raise ParsecProtocolError("malformed protobuf in response: field {} is not UTF-8".format(number)) from None


def _get_messages(fields: Dict[int, List[ProtoValue]], number: int) -> List[bytes]:
    values = fields.get(number, [])
    if not all(isinstance(value, bytes) for value in values):
        raise ParsecProtocolError("malformed protobuf in response: field {} is not a message".format(number))
    return values


def _get_uints(fields: Dict[int, List[ProtoValue]], number: int) -> List[int]:
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


def _oneof_variant(fields: Dict[int, List[ProtoValue]]) -> Tuple[int, ProtoValue]:
    if len(fields) != 1:
        raise ParsecProtocolError("malformed protobuf in response: a oneof holds {} variants".format(len(fields)))
    ((number, values),) = fields.items()
    return number, values[-1]


# ---------------------------------------------------------------------------------------------
# Key attributes

HASH_NAMES = (
    "none",
    "md2",
    "md4",
    "md5",
    "ripemd160",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sha512_224",
    "sha512_256",
    "sha3_224",
    "sha3_256",
    "sha3_384",
    "sha3_512",
)
_HASH_IDS = {name: number for number, name in enumerate(HASH_NAMES)}
HASH_ANY = "any"  # SignHash.any: the key signs with whichever hash a request names

KEY_TYPE_NAMES = {
    1: "raw_data",
    2: "hmac",
    3: "derive",
    4: "aes",
    5: "des",
    6: "camellia",
    7: "arc4",
    8: "chacha20",
    9: "rsa_public_key",
    10: "rsa_key_pair",
    11: "ecc_key_pair",
    12: "ecc_public_key",
    13: "dh_key_pair",
    14: "dh_public_key",
}
_KEY_TYPE_IDS = {name: number for number, name in KEY_TYPE_NAMES.items()}
_ECC_KEY_TYPES = ("ecc_key_pair", "ecc_public_key")
_RSA_KEY_TYPES = ("rsa_key_pair", "rsa_public_key")

CURVE_FAMILY_NAMES = {
    1: "secp_k1",
    2: "secp_r1",
    3: "secp_r2",
    4: "sect_k1",
    5: "sect_r1",
    6: "sect_r2",
    7: "brainpool_p_r1",
    8: "frp",
    9: "montgomery",
}
_CURVE_FAMILY_IDS = {name: number for number, name in CURVE_FAMILY_NAMES.items()}

USAGE_FLAG_NAMES = (
    "export",
    "copy",
    "cache",
    "encrypt",
    "decrypt",
    "sign_message",
    "verify_message",
    "sign_hash",
    "verify_hash",
    "derive",
)
SIGN_USAGE = frozenset(("sign_hash", "verify_hash", "sign_message", "verify_message"))
ENCRYPT_USAGE = frozenset(("encrypt", "decrypt"))

ALGORITHM_FAMILY_NAMES = {
    1: "none",
    2: "hash",
    3: "mac",
    4: "cipher",
    5: "aead",
    6: "asymmetric_signature",
    7: "asymmetric_encryption",
    8: "key_agreement",
    9: "key_derivation",
}
SIGNATURE_ALGORITHMS = {
    "rsa_pkcs1v15_sign": 1,
    "rsa_pkcs1v15_sign_raw": 2,
    "rsa_pss": 3,
    "ecdsa": 4,
    "ecdsa_any": 5,
    "deterministic_ecdsa": 6,
}
_SIGNATURE_ALGORITHM_NAMES = {number: name for name, number in SIGNATURE_ALGORITHMS.items()}
_SIGNATURES_WITHOUT_HASH = ("rsa_pkcs1v15_sign_raw", "ecdsa_any")
_ECDSA_ALGORITHMS = ("ecdsa", "ecdsa_any", "deterministic_ecdsa")
ENCRYPTION_ALGORITHMS = {"rsa_pkcs1v15_crypt": 1, "rsa_oaep": 2}
_ENCRYPTION_ALGORITHM_NAMES = {number: name for name, number in ENCRYPTION_ALGORITHMS.items()}
_SIGN_HASH_ANY = 1
_SIGN_HASH_SPECIFIC = 2

SECP_R1_BITS = (256, 384, 521)
RSA_BITS = (2048, 3072, 4096)


@dataclass(frozen=True)
class Algorithm:
    """A key policy's or operation's algorithm; `name` and `hash` only for the asymmetric families."""

    family: str
    name: Optional[str] = None
    hash: Optional[str] = None

    def to_dict(self) -> dict:
        return {"family": self.family, "name": self.name, "hash": self.hash}


def ecdsa(hash: str = "sha256") -> Algorithm:
    return Algorithm("asymmetric_signature", "ecdsa", hash)


def rsa_pkcs1v15_sign(hash: str = "sha256") -> Algorithm:
    return Algorithm("asymmetric_signature", "rsa_pkcs1v15_sign", hash)


def rsa_pss(hash: str = "sha256") -> Algorithm:
    return Algorithm("asymmetric_signature", "rsa_pss", hash)


def rsa_oaep(hash: str = "sha256") -> Algorithm:
    return Algorithm("asymmetric_encryption", "rsa_oaep", hash)


def rsa_pkcs1v15_crypt() -> Algorithm:
    return Algorithm("asymmetric_encryption", "rsa_pkcs1v15_crypt")


@dataclass(frozen=True)
class KeyAttributes:
    key_type: str
    bits: int
    curve: Optional[str] = None
    usage: FrozenSet[str] = field(default_factory=frozenset)
    algorithm: Optional[Algorithm] = None

    def to_dict(self) -> dict:
        return {
            "key_type": self.key_type,
            "bits": self.bits,
            "curve": self.curve,
            "usage": sorted(self.usage),
            "algorithm": self.algorithm.to_dict() if self.algorithm else None,
        }


def key_attribute_problems(attributes: KeyAttributes) -> List[str]:
    """What makes these attributes unusable for an RSA or ECC key pair; empty when they are fine."""
    problems = []
    key_type, algorithm = attributes.key_type, attributes.algorithm
    if key_type == "ecc_key_pair":
        if attributes.curve != "secp_r1":
            problems.append("curve {!r} is not supported: use secp_r1".format(attributes.curve))
        elif attributes.bits not in SECP_R1_BITS:
            problems.append(
                "{} bits is not a secp_r1 curve size: use one of {}".format(attributes.bits, _join(SECP_R1_BITS))
            )
    elif key_type == "rsa_key_pair":
        if attributes.curve is not None:
            problems.append("an RSA key has no curve: remove it")
        if attributes.bits not in RSA_BITS:
            problems.append(
                "{} bits is not an RSA size we offer: use one of {}".format(attributes.bits, _join(RSA_BITS))
            )
    else:
        problems.append("key type {!r} is not supported: use rsa_key_pair or ecc_key_pair".format(key_type))
    unknown_flags = attributes.usage - set(USAGE_FLAG_NAMES)
    if unknown_flags:
        problems.append("unknown usage flags: {}".format(_join(sorted(unknown_flags))))
    if algorithm is None:
        problems.append("an algorithm is required")
    else:
        problems.extend(_algorithm_problems(key_type, attributes.usage, algorithm))
    return problems


def _algorithm_problems(key_type: str, usage: FrozenSet[str], algorithm: Algorithm) -> List[str]:
    problems = []
    if algorithm.family == "asymmetric_signature":
        if algorithm.name not in SIGNATURE_ALGORITHMS:
            return ["unknown signature algorithm {!r}".format(algorithm.name)]
        is_ecdsa = algorithm.name in _ECDSA_ALGORITHMS
        if key_type == "ecc_key_pair" and not is_ecdsa:
            problems.append("{} needs an RSA key, not an ECC key".format(algorithm.name))
        if key_type == "rsa_key_pair" and is_ecdsa:
            problems.append("{} needs an ECC key, not an RSA key".format(algorithm.name))
        if not usage & SIGN_USAGE or usage & ENCRYPT_USAGE:
            problems.append(
                "{} signs, so the key's usage must be signing, not {}".format(algorithm.name, _usage_text(usage))
            )
    elif algorithm.family == "asymmetric_encryption":
        if algorithm.name not in ENCRYPTION_ALGORITHMS:
            return ["unknown encryption algorithm {!r}".format(algorithm.name)]
        if key_type != "rsa_key_pair":
            problems.append("{} needs an RSA key".format(algorithm.name))
        if not usage & ENCRYPT_USAGE or usage & SIGN_USAGE:
            problems.append(
                "{} encrypts, so the key's usage must be encryption, not {}".format(algorithm.name, _usage_text(usage))
            )
    else:
        return ["algorithm family {!r} is not supported for key pairs".format(algorithm.family)]
    problems.extend(_hash_problems(algorithm))
    return problems


def _hash_problems(algorithm: Algorithm) -> List[str]:
    takes_hash = algorithm.name not in _SIGNATURES_WITHOUT_HASH and algorithm.name != "rsa_pkcs1v15_crypt"
    if not takes_hash:
        return [] if algorithm.hash is None else ["{} takes no hash: remove it".format(algorithm.name)]
    allowed = algorithm.hash == HASH_ANY and algorithm.family == "asymmetric_signature"
    if allowed or (algorithm.hash in _HASH_IDS and algorithm.hash != "none"):
        return []
    return ["{} needs a hash such as sha256, not {!r}".format(algorithm.name, algorithm.hash)]


def _usage_text(usage: FrozenSet[str]) -> str:
    return _join(sorted(usage)) if usage else "none"


def _join(values) -> str:
    return ", ".join(str(value) for value in values)


def _encode_key_attributes(attributes: KeyAttributes) -> bytes:
    return (
        _message_field(1, _encode_key_type(attributes))
        + _uint_field(2, attributes.bits)
        + _message_field(3, _encode_key_policy(attributes))
    )


def _encode_key_type(attributes: KeyAttributes) -> bytes:
    variant = _KEY_TYPE_IDS.get(attributes.key_type)
    if variant is None or attributes.key_type.startswith("dh_"):
        raise ValueError("key type {!r} cannot be encoded by this client".format(attributes.key_type))
    if attributes.key_type in _ECC_KEY_TYPES:
        curve = _CURVE_FAMILY_IDS.get(attributes.curve or "")
        if curve is None:
            raise ValueError("ECC key needs a curve family such as secp_r1, not {!r}".format(attributes.curve))
        return _message_field(variant, _uint_field(1, curve))
    return _message_field(variant, b"")


def _encode_key_policy(attributes: KeyAttributes) -> bytes:
    flags = b"".join(
        _uint_field(number, 1) for number, name in enumerate(USAGE_FLAG_NAMES, start=1) if name in attributes.usage
    )
    algorithm = attributes.algorithm or Algorithm("none")
    return _message_field(1, flags) + _message_field(2, _encode_policy_algorithm(algorithm))


def _encode_policy_algorithm(algorithm: Algorithm) -> bytes:
    if algorithm.family == "asymmetric_signature":
        return _message_field(6, _encode_signature_algorithm(algorithm))
    if algorithm.family == "asymmetric_encryption":
        return _message_field(7, _encode_encryption_algorithm(algorithm))
    if algorithm.family == "none":
        return _message_field(1, b"")
    raise ValueError("algorithm family {!r} cannot be encoded by this client".format(algorithm.family))


def _cached_by_fields(encode):
    """Caches an algorithm encoder by the algorithm's fields.

    A client reuses one or two algorithms request after request, and encoding them took a sixth of a
    sign request's Python time. The key is the fields, not the Algorithm: hashing and comparing the
    dataclass costs as much as encoding it. Only valid algorithms are cached (errors raise).
    """
    cache: Dict[Tuple[str, Optional[str], Optional[str]], bytes] = {}

    @functools.wraps(encode)
    def cached(algorithm: Algorithm) -> bytes:
        key = (algorithm.family, algorithm.name, algorithm.hash)
        encoded = cache.get(key)
        if encoded is None:
            encoded = cache[key] = encode(algorithm)
        return encoded

    return cached


@_cached_by_fields
def _encode_signature_algorithm(algorithm: Algorithm) -> bytes:
    variant = SIGNATURE_ALGORITHMS.get(algorithm.name or "")
    if algorithm.family != "asymmetric_signature" or variant is None:
        raise ValueError("{} is not a signature algorithm".format(algorithm))
    if algorithm.name in _SIGNATURES_WITHOUT_HASH:
        return _message_field(variant, b"")
    if algorithm.hash == HASH_ANY:
        sign_hash = _message_field(_SIGN_HASH_ANY, b"")
    else:
        sign_hash = _oneof_uint_field(_SIGN_HASH_SPECIFIC, _hash_id(algorithm))
    return _message_field(variant, _message_field(1, sign_hash))


@_cached_by_fields
def _encode_encryption_algorithm(algorithm: Algorithm) -> bytes:
    variant = ENCRYPTION_ALGORITHMS.get(algorithm.name or "")
    if algorithm.family != "asymmetric_encryption" or variant is None:
        raise ValueError("{} is not an encryption algorithm".format(algorithm))
    if algorithm.name == "rsa_oaep":
        return _message_field(variant, _uint_field(1, _hash_id(algorithm)))
    return _message_field(variant, b"")


def _hash_id(algorithm: Algorithm) -> int:
    hash_id = _HASH_IDS.get(algorithm.hash or "")
    if not hash_id:
        raise ValueError("{} needs a hash such as sha256, not {!r}".format(algorithm.name, algorithm.hash))
    return hash_id


def _decode_key_attributes(data: bytes) -> KeyAttributes:
    fields = _parse_message(data)
    key_type, curve = _decode_key_type(_get_bytes(fields, 1))
    policy = _parse_message(_get_bytes(fields, 3))
    return KeyAttributes(
        key_type=key_type,
        bits=_get_uint(fields, 2),
        curve=curve,
        usage=_decode_usage_flags(_get_bytes(policy, 1)),
        algorithm=_decode_policy_algorithm(_get_bytes(policy, 2)),
    )


def _decode_key_type(data: bytes) -> Tuple[str, Optional[str]]:
    number, value = _oneof_variant(_parse_message(data))
    key_type = KEY_TYPE_NAMES.get(number, "unknown_{}".format(number))
    if key_type not in _ECC_KEY_TYPES or not isinstance(value, bytes):
        return key_type, None
    curve_id = _get_uint(_parse_message(value), 1)
    return key_type, CURVE_FAMILY_NAMES.get(curve_id, "unknown_{}".format(curve_id))


def _decode_usage_flags(data: bytes) -> FrozenSet[str]:
    fields = _parse_message(data)
    return frozenset(name for number, name in enumerate(USAGE_FLAG_NAMES, start=1) if _get_uint(fields, number))


def _decode_policy_algorithm(data: bytes) -> Optional[Algorithm]:
    fields = _parse_message(data)
    if not fields:
        return None
    number, value = _oneof_variant(fields)
    family = ALGORITHM_FAMILY_NAMES.get(number, "unknown_{}".format(number))
    if family == "asymmetric_signature" and isinstance(value, bytes):
        return _decode_signature_algorithm(value)
    if family == "asymmetric_encryption" and isinstance(value, bytes):
        return _decode_encryption_algorithm(value)
    if family == "hash" and isinstance(value, int):
        return Algorithm(family, hash=_hash_name(value))
    return Algorithm(family)


def _decode_signature_algorithm(data: bytes) -> Algorithm:
    number, value = _oneof_variant(_parse_message(data))
    name = _SIGNATURE_ALGORITHM_NAMES.get(number, "unknown_{}".format(number))
    if name in _SIGNATURES_WITHOUT_HASH or not isinstance(value, bytes):
        return Algorithm("asymmetric_signature", name)
    sign_hash = _parse_message(_get_bytes(_parse_message(value), 1))
    if _SIGN_HASH_ANY in sign_hash:
        return Algorithm("asymmetric_signature", name, HASH_ANY)
    return Algorithm("asymmetric_signature", name, _hash_name(_get_uint(sign_hash, _SIGN_HASH_SPECIFIC)))


def _decode_encryption_algorithm(data: bytes) -> Algorithm:
    number, value = _oneof_variant(_parse_message(data))
    name = _ENCRYPTION_ALGORITHM_NAMES.get(number, "unknown_{}".format(number))
    if name != "rsa_oaep" or not isinstance(value, bytes):
        return Algorithm("asymmetric_encryption", name)
    return Algorithm("asymmetric_encryption", name, _hash_name(_get_uint(_parse_message(value), 1)))


def _hash_name(hash_id: int) -> str:
    return HASH_NAMES[hash_id] if hash_id < len(HASH_NAMES) else "unknown_{}".format(hash_id)


# ---------------------------------------------------------------------------------------------
# Operation bodies


def encode_generate_key(name: str, attributes: KeyAttributes) -> bytes:
    return _string_field(1, name) + _message_field(2, _encode_key_attributes(attributes))


def encode_key_name(name: str) -> bytes:
    """The body of PsaDestroyKey and PsaExportPublicKey."""
    return _string_field(1, name)


def encode_sign_hash(name: str, algorithm: Algorithm, digest: bytes) -> bytes:
    return _string_field(1, name) + _message_field(2, _encode_signature_algorithm(algorithm)) + _bytes_field(3, digest)


def encode_verify_hash(name: str, algorithm: Algorithm, digest: bytes, signature: bytes) -> bytes:
    return encode_sign_hash(name, algorithm, digest) + _bytes_field(4, signature)


def encode_asymmetric_crypt(name: str, algorithm: Algorithm, data: bytes, salt: bytes = b"") -> bytes:
    """The body of PsaAsymmetricEncrypt (data = plaintext) and PsaAsymmetricDecrypt (ciphertext)."""
    return (
        _string_field(1, name)
        + _message_field(2, _encode_encryption_algorithm(algorithm))
        + _bytes_field(3, data)
        + _bytes_field(4, salt)
    )


def encode_list_opcodes(provider_id: int) -> bytes:
    return _uint_field(1, provider_id)


@dataclass(frozen=True)
class ProviderInfo:
    id: int
    uuid: str
    description: str
    vendor: str
    version: str

    @property
    def name(self) -> str:
        return PROVIDER_NAMES.get(self.id, "provider-{}".format(self.id))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "uuid": self.uuid,
            "description": self.description,
            "vendor": self.vendor,
            "version": self.version,
        }


@dataclass(frozen=True)
class AuthenticatorInfo:
    id: int
    description: str
    version: str

    @property
    def name(self) -> str:
        return AUTHENTICATOR_NAMES.get(self.id, "authenticator-{}".format(self.id))

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description, "version": self.version}


@dataclass(frozen=True)
class KeyInfo:
    name: str
    provider_id: int
    attributes: KeyAttributes

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "provider_id": self.provider_id,
            "provider": PROVIDER_NAMES.get(self.provider_id, "provider-{}".format(self.provider_id)),
            "attributes": self.attributes.to_dict(),
        }


def _version(fields: Dict[int, List[ProtoValue]], first: int) -> str:
    return "{}.{}.{}".format(_get_uint(fields, first), _get_uint(fields, first + 1), _get_uint(fields, first + 2))


def decode_ping_result(body: bytes) -> Tuple[int, int]:
    fields = _parse_message(body)
    return _get_uint(fields, 1), _get_uint(fields, 2)


def decode_list_providers_result(body: bytes) -> List[ProviderInfo]:
    providers = []
    for item in _get_messages(_parse_message(body), 1):
        fields = _parse_message(item)
        providers.append(
            ProviderInfo(
                id=_get_uint(fields, 7),
                uuid=_get_text(fields, 1),
                description=_get_text(fields, 2),
                vendor=_get_text(fields, 3),
                version=_version(fields, 4),
            )
        )
    return providers


def decode_list_authenticators_result(body: bytes) -> List[AuthenticatorInfo]:
    authenticators = []
    for item in _get_messages(_parse_message(body), 1):
        fields = _parse_message(item)
        authenticators.append(
            AuthenticatorInfo(id=_get_uint(fields, 5), description=_get_text(fields, 1), version=_version(fields, 2))
        )
    return authenticators


def decode_list_opcodes_result(body: bytes) -> List[int]:
    return sorted(_get_uints(_parse_message(body), 1))


def decode_list_keys_result(body: bytes) -> List[KeyInfo]:
    keys = []
    for item in _get_messages(_parse_message(body), 1):
        fields = _parse_message(item)
        keys.append(
            KeyInfo(
                name=_get_text(fields, 2),
                provider_id=_get_uint(fields, 1),
                attributes=_decode_key_attributes(_get_bytes(fields, 3)),
            )
        )
    return keys


def decode_data_result(body: bytes) -> bytes:
    """The single `bytes` field 1 of export, sign, encrypt and decrypt results."""
    return _get_bytes(_parse_message(body), 1)


# ---------------------------------------------------------------------------------------------
# Wire header


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


def _check_response_header(header: ResponseHeader, opcode: int) -> None:
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
# Transport

# What a send or receive raises when its timeout expires: BlockingIOError (EAGAIN) under the
# kernel's socket timeouts, socket.timeout under Python's.
_TIMEOUT_ERRORS = (socket.timeout, BlockingIOError)


def _use_kernel_timeouts(sock: socket.socket, timeout: Optional[float]) -> None:
    """Moves a connected socket from Python's timeout to the kernel's SO_SNDTIMEO and SO_RCVTIMEO.

    Python's settimeout() makes the socket non-blocking and polls before every send and receive,
    which cost up to a tenth of the round trips per second against the real service
    (tests/bench/bench_parsec.py); a blocking socket with the kernel's timeouts is bounded the same
    way without the polls. It runs after connecting, so that connecting stays as it was (a unix
    socket connects, or fails, at once) and these system calls are off the path between two requests.
    """
    if timeout is None or timeout <= 0:
        return  # no timeout, or non-blocking: nothing to move
    try:
        timeval = _timeval(timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    except (OSError, struct.error):
        return  # e.g. a 32-bit system with a 64-bit time_t, whose timeval is not two longs
    sock.setblocking(True)


@functools.lru_cache(maxsize=8)
def _timeval(timeout: float) -> bytes:
    """A struct timeval, rounded up to whole microseconds: a zero timeval means no timeout at all."""
    seconds, microseconds = divmod(math.ceil(timeout * 1000000), 1000000)
    return struct.pack("@ll", seconds, microseconds)


def _recv_exact(sock: socket.socket, length: int, what: str) -> bytes:
    data = sock.recv(length)
    if len(data) == length:
        return data
    buffer = bytearray(data)
    while len(buffer) < length:
        chunk = sock.recv(length - len(buffer))
        if not chunk:
            raise ParsecTruncatedResponseError(
                "Parsec response {} truncated: connection closed after {} of {} bytes".format(what, len(buffer), length)
            )
        buffer += chunk
    return bytes(buffer)


def _describe_access(path: str) -> str:
    """Who may connect: the socket is 0666, so the directories on its path decide."""
    directory = os.path.dirname(path) or "/"
    try:
        info = os.stat(directory)
    except OSError:
        return "the directory {} cannot be inspected".format(directory)
    mode = stat.S_IMODE(info.st_mode)
    owner = _user_name(info.st_uid)
    group = _group_name(info.st_gid)
    if mode & 0o001:
        who = "every user"
    elif mode & 0o010:
        who = "{} and members of group {}".format(owner, group)
    else:
        who = "only {}".format(owner)
    return "{} is {}:{} mode {:04o}, so {} may connect (you are {})".format(
        directory, owner, group, mode, who, _user_name(os.geteuid())
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


class ParsecClient:
    """A Parsec client; every call opens one connection, sends one request and reads one response.

    `auth` defaults to UnixPeerCredentials with the effective UID at construction time.
    `provider` (id or name) defaults to the first provider the service lists, asked once.
    `timeout` bounds each connect, send and receive step, in seconds.
    """

    def __init__(
        self,
        endpoint: Optional[str] = None,
        auth: Optional[Auth] = None,
        provider: Optional[Union[int, str]] = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.socket_path = socket_path_from_endpoint(endpoint)
        self.timeout = timeout
        self.auth = auth if auth is not None else unix_peer_credentials()
        self._provider_id = None if provider is None else provider_id_from_name(provider)

    @property
    def provider_id(self) -> int:
        """The provider crypto operations go to; asks the service for its first one on first use."""
        if self._provider_id is None:
            self._provider_id = self.default_provider_id()
        return self._provider_id

    @provider_id.setter
    def provider_id(self, provider_id: int) -> None:
        self._provider_id = provider_id

    def default_provider_id(self) -> int:
        """The service's first crypto provider."""
        return self.crypto_providers()[0].id

    def crypto_providers(self) -> List[ProviderInfo]:
        """The service's providers except Core, in its configured priority order."""
        providers = [provider for provider in self.list_providers() if provider.id != ProviderId.CORE]
        if not providers:
            raise ParsecError(
                "the Parsec service at {} has no cryptographic provider configured".format(self.socket_path)
            )
        return providers

    # Core operations

    def ping(self) -> Tuple[int, int]:
        """The service's wire protocol version as (major, minor)."""
        return decode_ping_result(self._call(Opcode.PING))

    def list_providers(self) -> List[ProviderInfo]:
        return decode_list_providers_result(self._call(Opcode.LIST_PROVIDERS))

    def list_opcodes(self, provider_id: int) -> List[int]:
        return decode_list_opcodes_result(self._call(Opcode.LIST_OPCODES, encode_list_opcodes(provider_id)))

    def list_authenticators(self) -> List[AuthenticatorInfo]:
        return decode_list_authenticators_result(self._call(Opcode.LIST_AUTHENTICATORS))

    def list_keys(self) -> List[KeyInfo]:
        """The caller's keys in every provider (the service shows only the caller's own)."""
        return decode_list_keys_result(self._call(Opcode.LIST_KEYS, auth=self.auth))

    def find_key(self, name: str) -> Optional[KeyInfo]:
        """The caller's key of this name in this client's provider, if any."""
        provider_id = self.provider_id
        for key in self.list_keys():
            if key.name == name and key.provider_id == provider_id:
                return key
        return None

    # Crypto operations (this client's provider)

    def generate_key(self, name: str, attributes: KeyAttributes) -> None:
        self._crypto_call(Opcode.PSA_GENERATE_KEY, encode_generate_key(name, attributes))

    def destroy_key(self, name: str) -> None:
        self._crypto_call(Opcode.PSA_DESTROY_KEY, encode_key_name(name))

    def export_public_key(self, name: str) -> bytes:
        """RSA: PKCS#1 RSAPublicKey DER; ECC: 04 || X || Y. See subject_public_key_info()."""
        return decode_data_result(self._crypto_call(Opcode.PSA_EXPORT_PUBLIC_KEY, encode_key_name(name)))

    def sign_hash(self, name: str, algorithm: Algorithm, digest: bytes) -> bytes:
        """ECDSA signatures come back as r || s; see ecdsa_signature_to_der()."""
        return decode_data_result(self._crypto_call(Opcode.PSA_SIGN_HASH, encode_sign_hash(name, algorithm, digest)))

    def verify_hash(self, name: str, algorithm: Algorithm, digest: bytes, signature: bytes) -> None:
        """Returns when the signature is valid; raises ParsecStatusError (PsaErrorInvalidSignature) if not."""
        self._crypto_call(Opcode.PSA_VERIFY_HASH, encode_verify_hash(name, algorithm, digest, signature))

    def asymmetric_encrypt(self, name: str, algorithm: Algorithm, plaintext: bytes, salt: bytes = b"") -> bytes:
        body = encode_asymmetric_crypt(name, algorithm, plaintext, salt)
        return decode_data_result(self._crypto_call(Opcode.PSA_ASYMMETRIC_ENCRYPT, body))

    def asymmetric_decrypt(self, name: str, algorithm: Algorithm, ciphertext: bytes, salt: bytes = b"") -> bytes:
        body = encode_asymmetric_crypt(name, algorithm, ciphertext, salt)
        return decode_data_result(self._crypto_call(Opcode.PSA_ASYMMETRIC_DECRYPT, body))

    # Plumbing

    def _crypto_call(self, opcode: int, body: bytes) -> bytes:
        return self._call(opcode, body, self.provider_id, self.auth)

    def _call(self, opcode: int, body: bytes = b"", provider_id: int = 0, auth: Auth = NO_AUTH) -> bytes:
        return self.round_trip(encode_request(opcode, body, provider_id, auth), opcode)

    def round_trip(self, request: bytes, opcode: int) -> bytes:
        """Send one encoded request on a new connection; return the validated response body."""
        path = self.socket_path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            self._connect(sock)
            _use_kernel_timeouts(sock, self.timeout)
            try:
                sock.sendall(request)
                header = decode_response_header(_recv_exact(sock, HEADER_LENGTH, "header"))
                _check_response_header(header, opcode)
                return _recv_exact(sock, header.body_length, "body") if header.body_length else b""
            except _TIMEOUT_ERRORS:
                raise ParsecTimeoutError(
                    "Parsec at {} did not answer {} within {} s: the service may be overloaded or hung; "
                    "raise the timeout or check its log".format(path, opcode_name(opcode), self.timeout),
                    path,
                ) from None
            except (BrokenPipeError, ConnectionResetError) as error:
                raise ParsecConnectionError(
                    "Parsec at {} closed the connection during {} ({}): see the service's log".format(
                        path, opcode_name(opcode), error.strerror
                    ),
                    path,
                ) from None
        finally:
            sock.close()

    def _connect(self, sock: socket.socket) -> None:
        path = self.socket_path
        try:
            sock.connect(path)
        except FileNotFoundError:
            raise ParsecSocketNotFoundError(
                "Parsec socket {} does not exist: start the Parsec service, or set the endpoint "
                "(PARSEC_SERVICE_ENDPOINT=unix:/path) if it listens elsewhere".format(path),
                path,
            ) from None
        except PermissionError:
            raise ParsecPermissionError(
                "permission denied connecting to the Parsec socket {}: {}; run as a user who may, "
                "or add this user to the socket directory's group".format(path, _describe_access(path)),
                path,
            ) from None
        except ConnectionRefusedError:
            raise ParsecConnectionError(
                "nothing listens on the Parsec socket {}: the service is not running (stale socket)".format(path),
                path,
            ) from None
        except socket.timeout:
            raise ParsecTimeoutError(
                "connecting to Parsec at {} timed out after {} s: the service is not accepting connections".format(
                    path, self.timeout
                ),
                path,
            ) from None
        except OSError as error:
            raise ParsecConnectionError(
                "cannot connect to the Parsec socket {}: {}".format(path, error.strerror or error), path
            ) from None


# ---------------------------------------------------------------------------------------------
# DER helpers: public keys to SubjectPublicKeyInfo, ECDSA signatures between r || s and DER

_DER_INTEGER = 0x02
_DER_BIT_STRING = 0x03
_DER_NULL = 0x05
_DER_OID = 0x06
_DER_SEQUENCE = 0x30


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _der_oid(dotted: str) -> bytes:
    numbers = [int(part) for part in dotted.split(".")]
    content = bytearray((numbers[0] * 40 + numbers[1],))
    for number in numbers[2:]:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append((number & 0x7F) | 0x80)
            number >>= 7
        content += bytes(reversed(chunk))
    return _der(_DER_OID, bytes(content))


def _der_unsigned_integer(value: bytes) -> bytes:
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:  # keep it positive
        value = b"\x00" + value
    return _der(_DER_INTEGER, value)


_RSA_ALGORITHM_IDENTIFIER = _der(_DER_SEQUENCE, _der_oid("1.2.840.113549.1.1.1") + _der(_DER_NULL, b""))
_EC_PUBLIC_KEY_OID = _der_oid("1.2.840.10045.2.1")
# Uncompressed point length -> (curve bits, named curve OID)
_SECP_R1_BY_POINT_LENGTH = {
    65: (256, _der_oid("1.2.840.10045.3.1.7")),
    97: (384, _der_oid("1.3.132.0.34")),
    133: (521, _der_oid("1.3.132.0.35")),
}


def rsa_public_key_to_spki(rsa_public_key: bytes) -> bytes:
    """PKCS#1 RSAPublicKey DER (Parsec's RSA export) -> SubjectPublicKeyInfo DER."""
    if not rsa_public_key or rsa_public_key[0] != _DER_SEQUENCE:
        raise ValueError("not a PKCS#1 RSAPublicKey: it must be a DER SEQUENCE")
    return _der(_DER_SEQUENCE, _RSA_ALGORITHM_IDENTIFIER + _der(_DER_BIT_STRING, b"\x00" + rsa_public_key))


def ecc_public_key_to_spki(point: bytes) -> bytes:
    """Uncompressed secp_r1 point 04 || X || Y (Parsec's ECC export) -> SubjectPublicKeyInfo DER."""
    curve = _SECP_R1_BY_POINT_LENGTH.get(len(point))
    if curve is None or point[0] != 0x04:
        raise ValueError(
            "not an uncompressed P-256, P-384 or P-521 point: {} bytes starting 0x{:02x}".format(
                len(point), point[0] if point else 0
            )
        )
    algorithm = _der(_DER_SEQUENCE, _EC_PUBLIC_KEY_OID + curve[1])
    return _der(_DER_SEQUENCE, algorithm + _der(_DER_BIT_STRING, b"\x00" + point))


def subject_public_key_info(exported: bytes, attributes: KeyAttributes) -> bytes:
    """What export_public_key() returned, as SubjectPublicKeyInfo DER for this key's type."""
    if attributes.key_type in _RSA_KEY_TYPES:
        return rsa_public_key_to_spki(exported)
    if attributes.key_type in _ECC_KEY_TYPES and attributes.curve == "secp_r1":
        return ecc_public_key_to_spki(exported)
    kind = "{} {}".format(attributes.curve, attributes.key_type) if attributes.curve else attributes.key_type
    raise ValueError("no SubjectPublicKeyInfo encoding for {} keys".format(kind))


def public_key_pem(spki_der: bytes) -> str:
    encoded = base64.b64encode(spki_der).decode("ascii")
    lines = [encoded[start : start + 64] for start in range(0, len(encoded), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def ecdsa_signature_to_der(raw: bytes) -> bytes:
    """r || s (Parsec's ECDSA output) -> DER Ecdsa-Sig-Value (X.509, CMS, TLS)."""
    if not raw or len(raw) % 2:
        raise ValueError("an r || s ECDSA signature has an even, non-zero length, not {}".format(len(raw)))
    half = len(raw) // 2
    return _der(_DER_SEQUENCE, _der_unsigned_integer(raw[:half]) + _der_unsigned_integer(raw[half:]))


def ecdsa_signature_from_der(der: bytes, curve_bits: int) -> bytes:
    """DER Ecdsa-Sig-Value -> r || s with each half as long as the curve's field, for verify_hash()."""
    size = (curve_bits + 7) // 8
    sequence, end = _der_read(der, 0, _DER_SEQUENCE)
    if end != len(der):
        raise ValueError("trailing bytes after the DER ECDSA signature")
    r, position = _der_read(sequence, 0, _DER_INTEGER)
    s, position = _der_read(sequence, position, _DER_INTEGER)
    if position != len(sequence):
        raise ValueError("a DER ECDSA signature holds exactly two integers")
    halves = [value.lstrip(b"\x00") for value in (r, s)]
    if any(len(value) > size for value in halves):
        raise ValueError("ECDSA signature values are larger than a {}-bit curve allows".format(curve_bits))
    return b"".join(value.rjust(size, b"\x00") for value in halves)


def _der_read(data: bytes, position: int, tag: int) -> Tuple[bytes, int]:
    """Content of the TLV at position, which must carry this tag, and the position after it."""
    if position + 2 > len(data) or data[position] != tag:
        raise ValueError("malformed DER: expected tag 0x{:02x} at offset {}".format(tag, position))
    length = data[position + 1]
    position += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[position : position + size], "big")
        position += size
    end = position + length
    if end > len(data):
        raise ValueError("malformed DER: value runs past the end")
    return bytes(data[position:end]), end
