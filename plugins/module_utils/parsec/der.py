# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""DER conversions for what Parsec returns: exported public keys to SubjectPublicKeyInfo (and PEM),
ECDSA signatures between Parsec's r || s and DER.

Formats: RFC 5280 (SubjectPublicKeyInfo), RFC 8017 (RSAPublicKey), RFC 5480 (EC keys and curve
OIDs), RFC 3279 (Ecdsa-Sig-Value).
"""

import base64
from typing import Tuple

from .keys import ECC_KEY_TYPES, RSA_KEY_TYPES, KeyAttributes

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
    if attributes.key_type in RSA_KEY_TYPES:
        return rsa_public_key_to_spki(exported)
    if attributes.key_type in ECC_KEY_TYPES and attributes.curve == "secp_r1":
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
