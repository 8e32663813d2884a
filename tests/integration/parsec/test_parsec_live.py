"""Every operation of the Parsec client against a real Parsec service, and interop with parsec-tool.

Skipped unless PARSEC_SERVICE_ENDPOINT names a running service (run-local.sh provides one).
The `cryptography` package checks, on the controller side, what Parsec produced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.client import ParsecClient, unix_peer_credentials
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.codes import Opcode, ProviderId
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.der import (
    ecdsa_signature_from_der,
    ecdsa_signature_to_der,
    public_key_pem,
    subject_public_key_info,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.errors import ParsecStatusError
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.keys import (
    ENCRYPT_USAGE,
    SIGN_USAGE,
    Algorithm,
    KeyAttributes,
    ecdsa,
    rsa_oaep,
    rsa_pkcs1v15_crypt,
    rsa_pkcs1v15_sign,
    rsa_pss,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.operations import KeyInfo
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.wire import NO_AUTH, encode_request

HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def ecc_key(bits: int = 256, hash_name: str = "sha256") -> KeyAttributes:
    return KeyAttributes("ecc_key_pair", bits, "secp_r1", SIGN_USAGE, ecdsa(hash_name))


def rsa_key(algorithm: Algorithm, bits: int = 2048) -> KeyAttributes:
    usage = SIGN_USAGE if algorithm.family == "asymmetric_signature" else ENCRYPT_USAGE
    return KeyAttributes("rsa_key_pair", bits, None, usage, algorithm)


def public_key_of(client, name, attributes):
    der = subject_public_key_info(client.export_public_key(name), attributes)
    return serialization.load_der_public_key(der)


# Core operations


def test_ping(client):
    assert client.ping() == (1, 0)


def test_providers_list_a_crypto_provider_first_and_core(client):
    providers = client.list_providers()
    assert providers[0].id != 0
    assert 0 in [provider.id for provider in providers]
    assert client.provider_id == providers[0].id


def test_opcodes_of_the_default_provider_cover_what_the_modules_use(client):
    opcodes = set(client.list_opcodes(client.provider_id))
    assert {
        Opcode.PSA_GENERATE_KEY,
        Opcode.PSA_SIGN_HASH,
        Opcode.PSA_ASYMMETRIC_DECRYPT,
    } <= opcodes
    assert Opcode.LIST_KEYS in client.list_opcodes(0)


def test_authenticators(client):
    assert [authenticator.name for authenticator in client.list_authenticators()] == ["unix-peer-credentials"]


def test_list_keys_needs_an_identity(endpoint):
    with pytest.raises(ParsecStatusError) as raised:
        ParsecClient(endpoint=endpoint, auth=NO_AUTH).list_keys()
    assert raised.value.status_name == "NotAuthenticated"


def test_someone_elses_uid_is_refused(endpoint):
    impostor = ParsecClient(endpoint=endpoint, auth=unix_peer_credentials(os.geteuid() + 1))
    with pytest.raises(ParsecStatusError) as raised:
        impostor.list_keys()
    assert raised.value.status_name == "AuthenticationError"


def test_malformed_request_gets_a_status_not_a_hang(client):
    request = bytearray(encode_request(Opcode.PING))
    request[6] = 2  # wire protocol 2.0
    with pytest.raises(ParsecStatusError) as raised:
        client.round_trip(bytes(request), Opcode.PING)
    assert raised.value.status_name == "WireProtocolVersionNotSupported"


# Keys: generate, list, export, destroy


@pytest.mark.parametrize(
    "attributes",
    [
        ecc_key(256),
        ecc_key(521, "sha512"),
        rsa_key(rsa_pkcs1v15_sign("sha256")),
        rsa_key(rsa_pss("sha384"), bits=4096),
        rsa_key(rsa_oaep("sha256")),
        rsa_key(rsa_pkcs1v15_crypt()),
    ],
    ids=lambda attributes: "{}-{}-{}".format(attributes.key_type, attributes.bits, attributes.algorithm.name),
)
def test_generated_key_is_listed_with_its_attributes_and_exports_its_public_key(client, key_name, attributes):
    name = key_name()
    client.generate_key(name, attributes)
    assert client.find_key(name) == KeyInfo(name, client.provider_id, attributes)
    public_key = public_key_of(client, name, attributes)
    assert public_key.key_size == attributes.bits
    client.destroy_key(name)
    assert client.find_key(name) is None


@pytest.mark.parametrize("attributes", [ecc_key(384, "sha384"), rsa_key(rsa_pss(), bits=3072)], ids=["p384", "rsa3072"])
def test_mbed_crypto_refuses_p384_and_rsa3072_with_a_hint(client, key_name, attributes):
    if client.provider_id != ProviderId.MBED_CRYPTO:
        pytest.skip("a fact about Parsec 1.4's MbedCrypto provider")
    with pytest.raises(ParsecStatusError, match="refuses P-384 and RSA-3072") as raised:
        client.generate_key(key_name(), attributes)
    assert raised.value.status_name == "PsaErrorInvalidArgument"


def test_duplicate_and_missing_keys_are_typed_errors(client, key_name):
    name = key_name()
    client.generate_key(name, ecc_key())
    with pytest.raises(ParsecStatusError) as duplicate:
        client.generate_key(name, ecc_key())
    assert duplicate.value.status_name == "PsaErrorAlreadyExists"
    with pytest.raises(ParsecStatusError) as missing:
        client.export_public_key(key_name())
    assert missing.value.status_name == "PsaErrorDoesNotExist"


# Sign and verify


@pytest.mark.parametrize("bits, hash_name", [(256, "sha256"), (521, "sha384"), (521, "sha512")])
def test_ecdsa_signature_verifies_in_parsec_and_in_cryptography(client, key_name, bits, hash_name):
    name = key_name()
    client.generate_key(name, ecc_key(bits, hash_name))
    message = b"node-1 nonce 42"
    digest = hashlib.new(hash_name, message).digest()
    raw = client.sign_hash(name, ecdsa(hash_name), digest)
    client.verify_hash(name, ecdsa(hash_name), digest, raw)
    public_key = public_key_of(client, name, ecc_key(bits, hash_name))
    public_key.verify(ecdsa_signature_to_der(raw), message, ec.ECDSA(HASHES[hash_name]()))


def test_wrong_signature_is_invalid(client, key_name):
    name = key_name()
    client.generate_key(name, ecc_key())
    digest = hashlib.sha256(b"x").digest()
    signature = bytearray(client.sign_hash(name, ecdsa(), digest))
    signature[-1] ^= 1
    with pytest.raises(ParsecStatusError) as raised:
        client.verify_hash(name, ecdsa(), digest, bytes(signature))
    assert raised.value.status_name == "PsaErrorInvalidSignature"


@pytest.mark.parametrize(
    "algorithm, verify_padding",
    [
        (rsa_pkcs1v15_sign("sha256"), padding.PKCS1v15),
        (rsa_pss("sha256"), lambda: padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)),
    ],
    ids=["pkcs1v15", "pss"],
)
def test_rsa_signature_verifies_in_parsec_and_in_cryptography(client, key_name, algorithm, verify_padding):
    name = key_name()
    client.generate_key(name, rsa_key(algorithm))
    digest = hashlib.sha256(b"licence 7").digest()
    signature = client.sign_hash(name, algorithm, digest)
    client.verify_hash(name, algorithm, digest, signature)
    public_key_of(client, name, rsa_key(algorithm)).verify(signature, b"licence 7", verify_padding(), hashes.SHA256())


def test_key_policy_is_enforced(client, key_name):
    name = key_name()
    client.generate_key(name, ecc_key())
    with pytest.raises(ParsecStatusError) as raised:
        client.sign_hash(name, ecdsa("sha384"), hashlib.sha384(b"x").digest())
    assert raised.value.status_name == "PsaErrorNotPermitted"


# Encrypt and decrypt


@pytest.mark.parametrize(
    "algorithm, local_padding",
    [
        (rsa_oaep("sha256"), lambda: padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)),
        (rsa_pkcs1v15_crypt(), padding.PKCS1v15),
    ],
    ids=["oaep", "pkcs1v15"],
)
def test_encryption_round_trips_both_ways(client, key_name, algorithm, local_padding):
    name = key_name()
    client.generate_key(name, rsa_key(algorithm))
    secret = b"K10::server:join-token"
    assert client.asymmetric_decrypt(name, algorithm, client.asymmetric_encrypt(name, algorithm, secret)) == secret
    # What the auth server does: encrypt to the node's exported public key, the node's Parsec decrypts.
    ciphertext = public_key_of(client, name, rsa_key(algorithm)).encrypt(secret, local_padding())
    assert client.asymmetric_decrypt(name, algorithm, ciphertext) == secret


def test_oaep_salt_is_the_label(client, key_name):
    name = key_name()
    algorithm = rsa_oaep("sha256")
    client.generate_key(name, rsa_key(algorithm))
    ciphertext = client.asymmetric_encrypt(name, algorithm, b"secret", salt=b"label")
    assert client.asymmetric_decrypt(name, algorithm, ciphertext, salt=b"label") == b"secret"
    with pytest.raises(ParsecStatusError):
        client.asymmetric_decrypt(name, algorithm, ciphertext)


# Interop with parsec-tool


def test_our_key_signs_with_parsec_tool_and_verifies_with_our_client(client, key_name, parsec_tool):
    name = key_name("ours")
    client.generate_key(name, ecc_key())
    der = base64.b64decode(parsec_tool("sign", "--key-name", name, "hello from parsec-tool"))
    digest = hashlib.sha256(b"hello from parsec-tool").digest()
    client.verify_hash(name, ecdsa(), digest, ecdsa_signature_from_der(der, 256))


@pytest.mark.parametrize(
    "attributes", [ecc_key(256), ecc_key(521, "sha512"), rsa_key(rsa_oaep())], ids=["p256", "p521", "rsa"]
)
def test_parsec_tool_exports_the_same_pem_as_ours(client, key_name, parsec_tool, attributes):
    name = key_name("ours")
    client.generate_key(name, attributes)
    ours = public_key_pem(subject_public_key_info(client.export_public_key(name), attributes))
    assert parsec_tool("export-public-key", "--key-name", name) == ours


def test_parsec_tool_csr_verifies_against_our_exported_key(client, key_name, parsec_tool):
    name = key_name("csr")
    client.generate_key(name, ecc_key())
    csr = x509.load_pem_x509_csr(
        parsec_tool("create-csr", "--key-name", name, "--cn", "nano-1", "--o", "EdgeFaaS").encode()
    )
    ours = public_key_of(client, name, ecc_key())
    ours.verify(csr.signature, csr.tbs_certrequest_bytes, ec.ECDSA(csr.signature_hash_algorithm))
    assert csr.public_key() == ours
    assert csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "nano-1"


def test_parsec_tool_key_is_usable_by_our_client(client, key_name, parsec_tool):
    name = key_name("theirs")
    parsec_tool("create-ecc-key", "--key-name", name)
    assert client.find_key(name).attributes == ecc_key()
    digest = hashlib.sha256(b"from our client").digest()
    raw = client.sign_hash(name, ecdsa(), digest)
    theirs = serialization.load_pem_public_key(parsec_tool("export-public-key", "--key-name", name).encode())
    theirs.verify(ecdsa_signature_to_der(raw), b"from our client", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        theirs.verify(ecdsa_signature_to_der(raw), b"something else", ec.ECDSA(hashes.SHA256()))


def test_encryption_between_parsec_tool_and_our_client(client, key_name, parsec_tool):
    name = key_name("theirs")
    parsec_tool("create-rsa-key", "--key-name", name, "--oaep")
    algorithm = rsa_oaep("sha256")
    assert client.find_key(name).attributes == rsa_key(algorithm)
    ciphertext = base64.b64decode(parsec_tool("encrypt", "--key-name", name, "sealed by parsec-tool"))
    assert client.asymmetric_decrypt(name, algorithm, ciphertext) == b"sealed by parsec-tool"
    ours = base64.b64encode(client.asymmetric_encrypt(name, algorithm, b"sealed by us")).decode()
    assert parsec_tool("decrypt", "--key-name", name, ours).strip() == "sealed by us"


# Multi-tenancy: keys are namespaced by the caller's UID


def as_uid(uid: int, endpoint: str, action):
    """action(client) in a child process running as this UID; returns its JSON-able result."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - child process
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            report = {"result": action(ParsecClient(endpoint=endpoint))}
        except BaseException as error:
            report = {"error": repr(error)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read().decode())
    os.waitpid(child, 0)
    assert "error" not in report, "as UID {}: {}".format(uid, report["error"])
    return report["result"]


def test_two_uids_with_the_same_key_name_see_only_their_own(endpoint, key_name):
    if os.geteuid() != 0:
        pytest.skip("needs root to act as two other UIDs")
    name = key_name("shared")
    first_uid, second_uid = 61001, 61002

    def create(client):
        client.generate_key(name, ecc_key())
        return client.export_public_key(name).hex()

    def visible_keys(client):
        return [key.name for key in client.list_keys()]

    def destroy(client):
        client.destroy_key(name)

    try:
        first_public_key = as_uid(first_uid, endpoint, create)
        second_public_key = as_uid(second_uid, endpoint, create)  # same name, no PsaErrorAlreadyExists
        assert first_public_key != second_public_key
        assert as_uid(first_uid, endpoint, visible_keys) == [name]
        assert as_uid(second_uid, endpoint, visible_keys) == [name]
    finally:
        for uid in (first_uid, second_uid):
            as_uid(uid, endpoint, destroy)
