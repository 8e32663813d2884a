"""Unit tests of edgefaas_services.x509: the encodings and the refusals, with keys held by a fake
Parsec (FakeParsecClient in conftest). `cryptography` checks every result independently; the live
tests against a real Parsec and openssl are in tests/integration/parsec/test_x509_live.py."""

from __future__ import annotations

import datetime

import pytest
from asn1crypto import csr as asn1_csr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from edgefaas_services.x509 import (
    BACKDATE,
    ParsecSigner,
    X509Error,
    build_ca_certificate,
    build_csr,
    check_csr,
    issue_certificate,
    node_name_problems,
    random_serial,
)

NOW = datetime.datetime(2030, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def ca(parsec):
    parsec.generate("site-ca")
    signer = ParsecSigner(parsec, "site-ca")
    return signer, build_ca_certificate(signer, "EdgeFaaS site CA", days=3650, now=NOW)


@pytest.fixture
def node_csr(parsec):
    parsec.generate("nano-1-sign")
    return build_csr(ParsecSigner(parsec, "nano-1-sign"), "nano-1")


def test_ca_certificate_fields(parsec, ca):
    certificate = x509.load_der_x509_certificate(ca[1])
    assert parsec.signatures == 1
    assert certificate.version == x509.Version.v3
    assert certificate.subject == certificate.issuer
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "EdgeFaaS site CA"
    assert certificate.signature_hash_algorithm.name == "sha256"
    assert certificate.not_valid_before_utc == NOW - BACKDATE
    assert certificate.not_valid_after_utc == NOW + datetime.timedelta(days=3650)
    assert 0 < certificate.serial_number < 2**159
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())
    # Parsec's key, and the signature (DER, converted from Parsec's r || s) verifies with it.
    own_key = parsec.keys["site-ca"].public_key()
    assert certificate.public_key() == own_key
    certificate.verify_directly_issued_by(certificate)


def test_signature_is_der_not_raw(ca):
    """X.509 needs the DER Ecdsa-Sig-Value, never Parsec's 64-byte r || s."""
    certificate = x509.load_der_x509_certificate(ca[1])
    assert certificate.signature[0] == 0x30 and len(certificate.signature) != 64


def test_serials_are_random():
    serials = {random_serial() for _draw in range(64)}
    assert len(serials) == 64 and all(0 < serial < 2**159 for serial in serials)


def test_ca_refuses_a_key_that_is_not_p256(parsec):
    parsec.generate("big", ec.SECP384R1())
    with pytest.raises(X509Error, match="not an ECDSA P-256 key"):
        build_ca_certificate(ParsecSigner(parsec, "big"), "CA", days=1)
    assert parsec.signatures == 0


def test_validity_of_zero_days_is_refused(parsec):
    parsec.generate("ca")
    with pytest.raises(X509Error, match="at least 1 day"):
        build_ca_certificate(ParsecSigner(parsec, "ca"), "CA", days=0)


def test_csr_parses_with_subject_san_and_valid_signature(parsec, node_csr):
    request = x509.load_der_x509_csr(node_csr)
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == "CN=nano-1"
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["nano-1"]
    assert request.public_key() == parsec.keys["nano-1-sign"].public_key()
    assert check_csr(node_csr, "nano-1")["certification_request_info"]["subject"].native == {"common_name": "nano-1"}


@pytest.mark.parametrize("name", ["", "nano_1", "nano-1.", "a" * 65, "nano 1", "nanö"])
def test_bad_node_names_are_refused(parsec, name):
    assert node_name_problems(name)
    parsec.generate("k")
    with pytest.raises(X509Error, match="node name"):
        build_csr(ParsecSigner(parsec, "k"), name)


def test_csr_for_another_node_is_refused(node_csr):
    with pytest.raises(X509Error, match="not CN=nano-2"):
        check_csr(node_csr, "nano-2")


def test_csr_with_a_tampered_signature_is_refused(node_csr):
    request = asn1_csr.CertificationRequest.load(node_csr)
    signature = bytearray(request["signature"].native)
    signature[-1] ^= 0x01
    request["signature"] = bytes(signature)
    with pytest.raises(X509Error, match="signature of the CSR does not match"):
        check_csr(request.dump(), "nano-1")


def test_csr_signed_by_another_key_is_refused(parsec):
    """A CSR carrying one key but signed by another (a forged proof of possession)."""
    parsec.generate("honest")
    parsec.generate("thief")
    honest, thief = ParsecSigner(parsec, "honest"), ParsecSigner(parsec, "thief")
    request = asn1_csr.CertificationRequest.load(build_csr(honest, "nano-1"))
    request["signature"] = thief.sign(request["certification_request_info"].dump())
    with pytest.raises(X509Error, match="does not match its public key"):
        check_csr(request.dump(), "nano-1")


def cryptography_csr(key, subject: str, san: list[str] | None, hash_algorithm=None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    return builder.sign(key, hash_algorithm or hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_csr_from_another_library_is_accepted():
    """The server checks CSRs by their content, whoever encoded them."""
    der = cryptography_csr(ec.generate_private_key(ec.SECP256R1()), "nano-1", ["nano-1"])
    assert check_csr(der, "nano-1")


@pytest.mark.parametrize(
    ("key", "san", "hash_algorithm", "reason"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), ["nano-1"], None, "only ECDSA P-256"),
        (ec.generate_private_key(ec.SECP384R1()), ["nano-1"], None, "only ECDSA P-256"),
        (ec.generate_private_key(ec.SECP256R1()), ["nano-1", "nano-2"], None, "not the one DNS name"),
        (ec.generate_private_key(ec.SECP256R1()), None, None, "not the one DNS name"),
        (ec.generate_private_key(ec.SECP256R1()), ["nano-1"], hashes.SHA384(), "not ecdsa-with-SHA256"),
    ],
    ids=["rsa-key", "p384-key", "two-names", "no-san", "sha384"],
)
def test_forbidden_csrs_are_refused(key, san, hash_algorithm, reason):
    with pytest.raises(X509Error, match=reason):
        check_csr(cryptography_csr(key, "nano-1", san, hash_algorithm), "nano-1")


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x00", b"not a csr", b"\x30\x82\xff\xff"])
def test_malformed_csrs_are_refused(data):
    with pytest.raises(X509Error, match="malformed CSR"):
        check_csr(data, "nano-1")


def test_issued_certificate_profile(parsec, ca, node_csr):
    signer, ca_der = ca
    leaf = x509.load_der_x509_certificate(issue_certificate(signer, ca_der, node_csr, "nano-1", days=30, now=NOW))
    ca_certificate = x509.load_der_x509_certificate(ca_der)
    leaf.verify_directly_issued_by(ca_certificate)
    assert leaf.subject.rfc4514_string() == "CN=nano-1"
    assert leaf.issuer == ca_certificate.subject
    assert leaf.public_key() == parsec.keys["nano-1-sign"].public_key()
    assert leaf.not_valid_after_utc == NOW + datetime.timedelta(days=30)
    assert leaf.serial_number != ca_certificate.serial_number
    extensions = leaf.extensions
    assert not extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["nano-1"]
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def test_issued_certificate_never_outlives_the_ca(ca, node_csr):
    signer, ca_der = ca
    leaf = x509.load_der_x509_certificate(issue_certificate(signer, ca_der, node_csr, "nano-1", days=99999, now=NOW))
    assert leaf.not_valid_after_utc == x509.load_der_x509_certificate(ca_der).not_valid_after_utc


def test_issuing_with_a_key_that_is_not_the_cas_is_refused(parsec, ca, node_csr):
    parsec.generate("impostor")
    with pytest.raises(X509Error, match="is not the key of the CA certificate"):
        issue_certificate(ParsecSigner(parsec, "impostor"), ca[1], node_csr, "nano-1", days=1)
