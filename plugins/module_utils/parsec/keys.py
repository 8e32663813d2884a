# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Key attributes: key types, curves, usage flags and algorithms; their validation, and their
protobuf encoding and decoding.

Field numbers and enum values from parsec-operations' psa_key_attributes.proto and
psa_algorithm.proto (the versions Parsec 1.4 speaks, where signature algorithms carry a SignHash).
"""

import functools
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

from .wire import get_bytes, get_uint, message_field, oneof_uint_field, oneof_variant, parse_message, uint_field

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
ECC_KEY_TYPES = ("ecc_key_pair", "ecc_public_key")
RSA_KEY_TYPES = ("rsa_key_pair", "rsa_public_key")

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
_ALGORITHM_FAMILY_IDS = {name: number for number, name in ALGORITHM_FAMILY_NAMES.items()}


# Field numbers of the messages. The oneofs' variants are numbered by the tables above
# (KEY_TYPE_NAMES, ALGORITHM_FAMILY_NAMES, SIGNATURE_ALGORITHMS, ENCRYPTION_ALGORITHMS), and
# UsageFlags' bools by the order of USAGE_FLAG_NAMES.


class KeyAttributesField:
    """psa_key_attributes.KeyAttributes."""

    KEY_TYPE = 1
    KEY_BITS = 2
    KEY_POLICY = 3


class EccKeyField:
    """psa_key_attributes.KeyType.EccKeyPair and .EccPublicKey."""

    CURVE_FAMILY = 1


class KeyPolicyField:
    """psa_key_attributes.KeyPolicy."""

    KEY_USAGE_FLAGS = 1
    KEY_ALGORITHM = 2


class HashAlgField:
    """The one field of the hashing variants of psa_algorithm's AsymmetricSignature (RsaPkcs1v15Sign,
    RsaPss, Ecdsa, DeterministicEcdsa: a SignHash) and AsymmetricEncryption (RsaOaep: a Hash)."""

    HASH_ALG = 1


class SignHashField:
    """psa_algorithm.Algorithm.AsymmetricSignature.SignHash, a oneof."""

    ANY = 1  # an empty message: the key signs with whichever hash a request names
    SPECIFIC = 2  # a Hash


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


def encode_key_attributes(attributes: KeyAttributes) -> bytes:
    return (
        message_field(KeyAttributesField.KEY_TYPE, _encode_key_type(attributes))
        + uint_field(KeyAttributesField.KEY_BITS, attributes.bits)
        + message_field(KeyAttributesField.KEY_POLICY, _encode_key_policy(attributes))
    )


def _encode_key_type(attributes: KeyAttributes) -> bytes:
    variant = _KEY_TYPE_IDS.get(attributes.key_type)
    if variant is None or attributes.key_type.startswith("dh_"):
        raise ValueError("key type {!r} cannot be encoded by this client".format(attributes.key_type))
    if attributes.key_type in ECC_KEY_TYPES:
        curve = _CURVE_FAMILY_IDS.get(attributes.curve or "")
        if curve is None:
            raise ValueError("ECC key needs a curve family such as secp_r1, not {!r}".format(attributes.curve))
        return message_field(variant, uint_field(EccKeyField.CURVE_FAMILY, curve))
    return message_field(variant, b"")


def _encode_key_policy(attributes: KeyAttributes) -> bytes:
    flags = b"".join(
        uint_field(number, 1) for number, name in enumerate(USAGE_FLAG_NAMES, start=1) if name in attributes.usage
    )
    algorithm = attributes.algorithm or Algorithm("none")
    return message_field(KeyPolicyField.KEY_USAGE_FLAGS, flags) + message_field(
        KeyPolicyField.KEY_ALGORITHM, _encode_policy_algorithm(algorithm)
    )


def _encode_policy_algorithm(algorithm: Algorithm) -> bytes:
    if algorithm.family == "asymmetric_signature":
        variant = encode_signature_algorithm(algorithm)
    elif algorithm.family == "asymmetric_encryption":
        variant = encode_encryption_algorithm(algorithm)
    elif algorithm.family == "none":
        variant = b""
    else:
        raise ValueError("algorithm family {!r} cannot be encoded by this client".format(algorithm.family))
    return message_field(_ALGORITHM_FAMILY_IDS[algorithm.family], variant)


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
def encode_signature_algorithm(algorithm: Algorithm) -> bytes:
    variant = SIGNATURE_ALGORITHMS.get(algorithm.name or "")
    if algorithm.family != "asymmetric_signature" or variant is None:
        raise ValueError("{} is not a signature algorithm".format(algorithm))
    if algorithm.name in _SIGNATURES_WITHOUT_HASH:
        return message_field(variant, b"")
    if algorithm.hash == HASH_ANY:
        sign_hash = message_field(SignHashField.ANY, b"")
    else:
        sign_hash = oneof_uint_field(SignHashField.SPECIFIC, _hash_id(algorithm))
    return message_field(variant, message_field(HashAlgField.HASH_ALG, sign_hash))


@_cached_by_fields
def encode_encryption_algorithm(algorithm: Algorithm) -> bytes:
    variant = ENCRYPTION_ALGORITHMS.get(algorithm.name or "")
    if algorithm.family != "asymmetric_encryption" or variant is None:
        raise ValueError("{} is not an encryption algorithm".format(algorithm))
    if algorithm.name == "rsa_oaep":
        return message_field(variant, uint_field(HashAlgField.HASH_ALG, _hash_id(algorithm)))
    return message_field(variant, b"")


def _hash_id(algorithm: Algorithm) -> int:
    hash_id = _HASH_IDS.get(algorithm.hash or "")
    if not hash_id:
        raise ValueError("{} needs a hash such as sha256, not {!r}".format(algorithm.name, algorithm.hash))
    return hash_id


def decode_key_attributes(data: bytes) -> KeyAttributes:
    fields = parse_message(data)
    key_type, curve = _decode_key_type(get_bytes(fields, KeyAttributesField.KEY_TYPE))
    policy = parse_message(get_bytes(fields, KeyAttributesField.KEY_POLICY))
    return KeyAttributes(
        key_type=key_type,
        bits=get_uint(fields, KeyAttributesField.KEY_BITS),
        curve=curve,
        usage=_decode_usage_flags(get_bytes(policy, KeyPolicyField.KEY_USAGE_FLAGS)),
        algorithm=_decode_policy_algorithm(get_bytes(policy, KeyPolicyField.KEY_ALGORITHM)),
    )


def _decode_key_type(data: bytes) -> Tuple[str, Optional[str]]:
    number, value = oneof_variant(parse_message(data))
    key_type = KEY_TYPE_NAMES.get(number, "unknown_{}".format(number))
    if key_type not in ECC_KEY_TYPES or not isinstance(value, bytes):
        return key_type, None
    curve_id = get_uint(parse_message(value), EccKeyField.CURVE_FAMILY)
    return key_type, CURVE_FAMILY_NAMES.get(curve_id, "unknown_{}".format(curve_id))


def _decode_usage_flags(data: bytes) -> FrozenSet[str]:
    fields = parse_message(data)
    return frozenset(name for number, name in enumerate(USAGE_FLAG_NAMES, start=1) if get_uint(fields, number))


def _decode_policy_algorithm(data: bytes) -> Optional[Algorithm]:
    fields = parse_message(data)
    if not fields:
        return None
    number, value = oneof_variant(fields)
    family = ALGORITHM_FAMILY_NAMES.get(number, "unknown_{}".format(number))
    if family == "asymmetric_signature" and isinstance(value, bytes):
        return _decode_signature_algorithm(value)
    if family == "asymmetric_encryption" and isinstance(value, bytes):
        return _decode_encryption_algorithm(value)
    if family == "hash" and isinstance(value, int):
        return Algorithm(family, hash=_hash_name(value))
    return Algorithm(family)


def _decode_signature_algorithm(data: bytes) -> Algorithm:
    number, value = oneof_variant(parse_message(data))
    name = _SIGNATURE_ALGORITHM_NAMES.get(number, "unknown_{}".format(number))
    if name in _SIGNATURES_WITHOUT_HASH or not isinstance(value, bytes):
        return Algorithm("asymmetric_signature", name)
    sign_hash = parse_message(get_bytes(parse_message(value), HashAlgField.HASH_ALG))
    if SignHashField.ANY in sign_hash:
        return Algorithm("asymmetric_signature", name, HASH_ANY)
    return Algorithm("asymmetric_signature", name, _hash_name(get_uint(sign_hash, SignHashField.SPECIFIC)))


def _decode_encryption_algorithm(data: bytes) -> Algorithm:
    number, value = oneof_variant(parse_message(data))
    name = _ENCRYPTION_ALGORITHM_NAMES.get(number, "unknown_{}".format(number))
    if name != "rsa_oaep" or not isinstance(value, bytes):
        return Algorithm("asymmetric_encryption", name)
    return Algorithm("asymmetric_encryption", name, _hash_name(get_uint(parse_message(value), HashAlgField.HASH_ALG)))


def _hash_name(hash_id: int) -> str:
    return HASH_NAMES[hash_id] if hash_id < len(HASH_NAMES) else "unknown_{}".format(hash_id)
