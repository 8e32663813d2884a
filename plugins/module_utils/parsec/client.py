# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The client: endpoint, authentication, the unix-socket transport and ParsecClient, whose calls
each send one request on a new connection and return the decoded result.
"""

import functools
import grp
import math
import os
import pwd
import socket
import stat
import struct
from typing import List, Optional, Tuple, Union

from .codes import AuthType, Opcode, ProviderId, opcode_name, provider_id_from_name
from .errors import (
    ParsecConnectionError,
    ParsecEndpointError,
    ParsecError,
    ParsecPermissionError,
    ParsecSocketNotFoundError,
    ParsecTimeoutError,
    ParsecTruncatedResponseError,
)
from .keys import Algorithm, KeyAttributes
from .operations import (
    AuthenticatorInfo,
    KeyInfo,
    ProviderInfo,
    decode_data_result,
    decode_list_authenticators_result,
    decode_list_keys_result,
    decode_list_opcodes_result,
    decode_list_providers_result,
    decode_ping_result,
    encode_asymmetric_crypt,
    encode_generate_key,
    encode_key_name,
    encode_list_opcodes,
    encode_sign_hash,
    encode_verify_hash,
)
from .wire import HEADER_LENGTH, NO_AUTH, Auth, check_response_header, decode_response_header, encode_request

ENDPOINT_ENV = "PARSEC_SERVICE_ENDPOINT"
DEFAULT_SOCKET_PATH = "/run/parsec/parsec.sock"
# RSA-4096 generation in software on a small Arm board takes tens of seconds.
DEFAULT_TIMEOUT = 60.0


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


def unix_peer_credentials(uid: Optional[int] = None) -> Auth:
    """The service compares this UID with the socket's peer credentials, i.e. the effective UID."""
    return Auth(AuthType.UNIX_PEER_CREDENTIALS, struct.pack("<I", os.geteuid() if uid is None else uid))


def direct_auth(app_name: str) -> Auth:
    if not app_name:
        raise ValueError("Direct authentication needs a non-empty application name")
    return Auth(AuthType.DIRECT, app_name.encode("utf-8"))


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
                check_response_header(header, opcode)
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
