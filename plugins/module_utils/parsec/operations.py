# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The operations' bodies: requests' encoders, results' decoders and the result types.

Field numbers from parsec-operations' .proto files (one per operation, each with an Operation and a
Result message), named by the classes below.
"""

from dataclasses import dataclass
from typing import Dict, List, Tuple

from .codes import AUTHENTICATOR_NAMES, provider_name
from .keys import (
    Algorithm,
    KeyAttributes,
    decode_key_attributes,
    encode_encryption_algorithm,
    encode_key_attributes,
    encode_signature_algorithm,
)
from .wire import (
    ProtoValue,
    bytes_field,
    get_bytes,
    get_messages,
    get_text,
    get_uint,
    get_uints,
    message_field,
    parse_message,
    string_field,
    uint_field,
)


class KeyNameOperationField:
    """psa_destroy_key.Operation and psa_export_public_key.Operation."""

    KEY_NAME = 1


class GenerateKeyOperationField:
    """psa_generate_key.Operation."""

    KEY_NAME = 1
    ATTRIBUTES = 2


class SignHashOperationField:
    """psa_sign_hash.Operation."""

    KEY_NAME = 1
    ALG = 2
    HASH = 3


class VerifyHashOperationField(SignHashOperationField):
    """psa_verify_hash.Operation: psa_sign_hash's fields and the signature."""

    SIGNATURE = 4


class AsymmetricCryptOperationField:
    """psa_asymmetric_encrypt.Operation and psa_asymmetric_decrypt.Operation."""

    KEY_NAME = 1
    ALG = 2
    DATA = 3  # plaintext to encrypt, ciphertext to decrypt
    SALT = 4


class ListOpcodesOperationField:
    """list_opcodes.Operation."""

    PROVIDER_ID = 1


class DataResultField:
    """The Result of psa_export_public_key (data), psa_sign_hash (signature),
    psa_asymmetric_encrypt (ciphertext) and psa_asymmetric_decrypt (plaintext)."""

    DATA = 1


class PingResultField:
    """ping.Result."""

    WIRE_PROTOCOL_VERSION_MAJ = 1
    WIRE_PROTOCOL_VERSION_MIN = 2


class ListResultField:
    """The Result of list_providers (providers), list_authenticators (authenticators), list_opcodes
    (opcodes) and list_keys (keys): one repeated field."""

    ITEMS = 1


class ProviderInfoField:
    """list_providers.ProviderInfo."""

    UUID = 1
    DESCRIPTION = 2
    VENDOR = 3
    VERSION_MAJ = 4
    VERSION_MIN = 5
    VERSION_REV = 6
    ID = 7


class AuthenticatorInfoField:
    """list_authenticators.AuthenticatorInfo."""

    DESCRIPTION = 1
    VERSION_MAJ = 2
    VERSION_MIN = 3
    VERSION_REV = 4
    ID = 5


class KeyInfoField:
    """list_keys.KeyInfo."""

    PROVIDER_ID = 1
    NAME = 2
    ATTRIBUTES = 3


def encode_generate_key(name: str, attributes: KeyAttributes) -> bytes:
    return string_field(GenerateKeyOperationField.KEY_NAME, name) + message_field(
        GenerateKeyOperationField.ATTRIBUTES, encode_key_attributes(attributes)
    )


def encode_key_name(name: str) -> bytes:
    """The body of PsaDestroyKey and PsaExportPublicKey."""
    return string_field(KeyNameOperationField.KEY_NAME, name)


def encode_sign_hash(name: str, algorithm: Algorithm, digest: bytes) -> bytes:
    return (
        string_field(SignHashOperationField.KEY_NAME, name)
        + message_field(SignHashOperationField.ALG, encode_signature_algorithm(algorithm))
        + bytes_field(SignHashOperationField.HASH, digest)
    )


def encode_verify_hash(name: str, algorithm: Algorithm, digest: bytes, signature: bytes) -> bytes:
    return encode_sign_hash(name, algorithm, digest) + bytes_field(VerifyHashOperationField.SIGNATURE, signature)


def encode_asymmetric_crypt(name: str, algorithm: Algorithm, data: bytes, salt: bytes = b"") -> bytes:
    """The body of PsaAsymmetricEncrypt (data = plaintext) and PsaAsymmetricDecrypt (ciphertext)."""
    return (
        string_field(AsymmetricCryptOperationField.KEY_NAME, name)
        + message_field(AsymmetricCryptOperationField.ALG, encode_encryption_algorithm(algorithm))
        + bytes_field(AsymmetricCryptOperationField.DATA, data)
        + bytes_field(AsymmetricCryptOperationField.SALT, salt)
    )


def encode_list_opcodes(provider_id: int) -> bytes:
    return uint_field(ListOpcodesOperationField.PROVIDER_ID, provider_id)


@dataclass(frozen=True)
class ProviderInfo:
    id: int
    uuid: str
    description: str
    vendor: str
    version: str

    @property
    def name(self) -> str:
        return provider_name(self.id)

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
            "provider": provider_name(self.provider_id),
            "attributes": self.attributes.to_dict(),
        }


def _version(fields: Dict[int, List[ProtoValue]], message) -> str:
    """major.minor.revision from a ProviderInfoField or AuthenticatorInfoField message."""
    return "{}.{}.{}".format(
        get_uint(fields, message.VERSION_MAJ),
        get_uint(fields, message.VERSION_MIN),
        get_uint(fields, message.VERSION_REV),
    )


def decode_ping_result(body: bytes) -> Tuple[int, int]:
    fields = parse_message(body)
    return get_uint(fields, PingResultField.WIRE_PROTOCOL_VERSION_MAJ), get_uint(
        fields, PingResultField.WIRE_PROTOCOL_VERSION_MIN
    )


def _list_items(body: bytes) -> List[Dict[int, List[ProtoValue]]]:
    """The parsed messages of a list result (providers, authenticators, keys)."""
    return [parse_message(item) for item in get_messages(parse_message(body), ListResultField.ITEMS)]


def decode_list_providers_result(body: bytes) -> List[ProviderInfo]:
    return [
        ProviderInfo(
            id=get_uint(fields, ProviderInfoField.ID),
            uuid=get_text(fields, ProviderInfoField.UUID),
            description=get_text(fields, ProviderInfoField.DESCRIPTION),
            vendor=get_text(fields, ProviderInfoField.VENDOR),
            version=_version(fields, ProviderInfoField),
        )
        for fields in _list_items(body)
    ]


def decode_list_authenticators_result(body: bytes) -> List[AuthenticatorInfo]:
    return [
        AuthenticatorInfo(
            id=get_uint(fields, AuthenticatorInfoField.ID),
            description=get_text(fields, AuthenticatorInfoField.DESCRIPTION),
            version=_version(fields, AuthenticatorInfoField),
        )
        for fields in _list_items(body)
    ]


def decode_list_opcodes_result(body: bytes) -> List[int]:
    return sorted(get_uints(parse_message(body), ListResultField.ITEMS))


def decode_list_keys_result(body: bytes) -> List[KeyInfo]:
    return [
        KeyInfo(
            name=get_text(fields, KeyInfoField.NAME),
            provider_id=get_uint(fields, KeyInfoField.PROVIDER_ID),
            attributes=decode_key_attributes(get_bytes(fields, KeyInfoField.ATTRIBUTES)),
        )
        for fields in _list_items(body)
    ]


def decode_data_result(body: bytes) -> bytes:
    """The single `bytes` field of export, sign, encrypt and decrypt results."""
    return get_bytes(parse_message(body), DataResultField.DATA)
