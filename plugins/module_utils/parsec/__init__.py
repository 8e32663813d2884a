# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The project's one client for the Parsec security service's wire protocol.

Standard library only and Python >= 3.8: Ansible modules ship it to any node, and the node
services import it too. Wire facts (header layout, status codes, protobuf field numbers) follow
the Parsec book, parsec-interface-rs and parsec-operations.

Modules by concern, each importing only those before it:
codes (opcodes, statuses, provider and authenticator ids), errors, wire (headers and the protobuf
codec), keys (key attributes and algorithms), operations (request and result bodies), client
(endpoint, authentication, transport, ParsecClient) and der (SubjectPublicKeyInfo, PEM, ECDSA
signatures). This package re-exports what callers use; the wire-level codecs stay in their modules.

Usage::

    client = ParsecClient()                      # PARSEC_SERVICE_ENDPOINT or /run/parsec/parsec.sock
    client.generate_key("node", KeyAttributes("ecc_key_pair", 256, "secp_r1", SIGN_USAGE, ecdsa()))
    signature = client.sign_hash("node", ecdsa(), hashlib.sha256(data).digest())
"""

from .client import (
    DEFAULT_SOCKET_PATH,
    DEFAULT_TIMEOUT,
    ENDPOINT_ENV,
    ParsecClient,
    direct_auth,
    socket_path_from_endpoint,
    unix_peer_credentials,
)
from .codes import (
    AUTHENTICATOR_NAMES,
    PROVIDER_NAMES,
    STATUS_NAMES,
    AuthType,
    Opcode,
    ProviderId,
    opcode_name,
    provider_id_from_name,
    provider_name,
)
from .der import (
    ecc_public_key_to_spki,
    ecdsa_signature_from_der,
    ecdsa_signature_to_der,
    public_key_pem,
    rsa_public_key_to_spki,
    subject_public_key_info,
)
from .errors import (
    ParsecConnectionError,
    ParsecEndpointError,
    ParsecError,
    ParsecPermissionError,
    ParsecProtocolError,
    ParsecSocketNotFoundError,
    ParsecStatusError,
    ParsecTimeoutError,
    ParsecTruncatedResponseError,
)
from .keys import (
    CURVE_FAMILY_NAMES,
    ENCRYPT_USAGE,
    HASH_ANY,
    HASH_NAMES,
    KEY_TYPE_NAMES,
    RSA_BITS,
    SECP_R1_BITS,
    SIGN_USAGE,
    USAGE_FLAG_NAMES,
    Algorithm,
    KeyAttributes,
    ecdsa,
    key_attribute_problems,
    rsa_oaep,
    rsa_pkcs1v15_crypt,
    rsa_pkcs1v15_sign,
    rsa_pss,
)
from .operations import AuthenticatorInfo, KeyInfo, ProviderInfo
from .wire import NO_AUTH, Auth

__all__ = [
    "AUTHENTICATOR_NAMES",
    "CURVE_FAMILY_NAMES",
    "DEFAULT_SOCKET_PATH",
    "DEFAULT_TIMEOUT",
    "ENCRYPT_USAGE",
    "ENDPOINT_ENV",
    "HASH_ANY",
    "HASH_NAMES",
    "KEY_TYPE_NAMES",
    "NO_AUTH",
    "PROVIDER_NAMES",
    "RSA_BITS",
    "SECP_R1_BITS",
    "SIGN_USAGE",
    "STATUS_NAMES",
    "USAGE_FLAG_NAMES",
    "Algorithm",
    "Auth",
    "AuthType",
    "AuthenticatorInfo",
    "KeyAttributes",
    "KeyInfo",
    "Opcode",
    "ParsecClient",
    "ParsecConnectionError",
    "ParsecEndpointError",
    "ParsecError",
    "ParsecPermissionError",
    "ParsecProtocolError",
    "ParsecSocketNotFoundError",
    "ParsecStatusError",
    "ParsecTimeoutError",
    "ParsecTruncatedResponseError",
    "ProviderId",
    "ProviderInfo",
    "direct_auth",
    "ecc_public_key_to_spki",
    "ecdsa",
    "ecdsa_signature_from_der",
    "ecdsa_signature_to_der",
    "key_attribute_problems",
    "opcode_name",
    "provider_id_from_name",
    "provider_name",
    "public_key_pem",
    "rsa_oaep",
    "rsa_pkcs1v15_crypt",
    "rsa_pkcs1v15_sign",
    "rsa_pss",
    "rsa_public_key_to_spki",
    "socket_path_from_endpoint",
    "subject_public_key_info",
    "unix_peer_credentials",
]
