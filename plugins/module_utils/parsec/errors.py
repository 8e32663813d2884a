# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The errors this client raises: every one is a ParsecError, and its message names the problem and
the remedy."""

from .codes import STATUS_NAMES, opcode_name

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
