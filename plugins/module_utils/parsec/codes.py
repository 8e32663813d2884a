# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The numbers Parsec's wire protocol names, and their names: opcodes, response statuses, provider
and authenticator ids.

Facts from the Parsec book (wire protocol, status codes) and parsec-interface-rs.
"""

import enum
from typing import Union


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


# Parsec's own spelling: PSA_GENERATE_KEY is PsaGenerateKey.
OPCODE_NAMES = {opcode: "".join(word.capitalize() for word in opcode.name.split("_")) for opcode in Opcode}


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


def provider_name(provider_id: int) -> str:
    return PROVIDER_NAMES.get(provider_id, "provider-{}".format(provider_id))


AUTHENTICATOR_NAMES = {
    AuthType.NO_AUTH: "no-auth",
    AuthType.DIRECT: "direct",
    AuthType.JWT: "jwt",
    AuthType.UNIX_PEER_CREDENTIALS: "unix-peer-credentials",
    AuthType.JWT_SVID: "jwt-svid",
}


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
