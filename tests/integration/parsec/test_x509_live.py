"""The services' X.509 (edgefaas_services.x509, imported from the built wheel) against a real
Parsec service: CA certificate, CSR and node certificate signed by keys that never leave Parsec,
checked independently by `cryptography` and by `openssl verify`.

`make integration` builds the wheel and puts it on PYTHONPATH; run-local.sh starts Parsec.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

try:
    from edgefaas_services import parsec as services_parsec
    from edgefaas_services import x509 as x509_services
except ImportError as error:  # a set-up problem: fail, never skip, so a green run did run these
    raise ImportError(
        "edgefaas_services is not importable: run `make integration`, or put the wheel that "
        "`make services-wheel` builds on PYTHONPATH"
    ) from error


@pytest.fixture
def packaged_client(endpoint):
    """The Parsec client as packaged in the wheel (the same files as module_utils/parsec)."""
    return services_parsec.ParsecClient(endpoint=endpoint, timeout=30)


@pytest.fixture
def signer(packaged_client, key_name):
    """Makes a fresh ECDSA P-256 signing key in Parsec and returns its ParsecSigner."""

    def make(prefix: str):
        name = key_name(prefix)
        attributes = services_parsec.KeyAttributes(
            "ecc_key_pair", 256, "secp_r1", services_parsec.SIGN_USAGE, services_parsec.ecdsa("sha256")
        )
        packaged_client.generate_key(name, attributes)
        return x509_services.ParsecSigner(packaged_client, name)

    return make


@pytest.fixture
def openssl(tmp_path):
    path = shutil.which("openssl")
    if not path:
        pytest.skip("openssl is not installed")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([path, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    return run


def pem(tmp_path, name: str, der: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.fixture
def site(signer):
    """A site CA in Parsec and a node certificate for nano-1 from a CSR signed by nano-1's Parsec key."""
    ca_signer = signer("site-ca")
    ca_der = x509_services.build_ca_certificate(ca_signer, "EdgeFaaS site CA", days=365)
    node_signer = signer("nano-1")
    csr_der = x509_services.build_csr(node_signer, "nano-1")
    leaf_der = x509_services.issue_certificate(ca_signer, ca_der, csr_der, "nano-1", days=30)
    return {"ca": ca_der, "csr": csr_der, "leaf": leaf_der, "node_signer": node_signer}


def test_ca_certificate_verifies_with_cryptography_and_openssl(site, tmp_path, openssl):
    ca = x509.load_der_x509_certificate(site["ca"])
    ca.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_pem = pem(tmp_path, "ca.pem", site["ca"])
    result = openssl("verify", "-x509_strict", "-check_ss_sig", "-CAfile", ca_pem, ca_pem)
    assert result.returncode == 0, result.stdout + result.stderr


def test_csr_verifies_with_openssl(site, tmp_path, openssl):
    (tmp_path / "nano-1.csr").write_bytes(site["csr"])
    result = openssl("req", "-inform", "DER", "-in", "nano-1.csr", "-verify", "-noout", "-subject")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CN=nano-1" in result.stdout.replace(" ", "")
    request = x509.load_der_x509_csr(site["csr"])
    assert request.is_signature_valid
    assert request.public_key() == serialization.load_der_public_key(site["node_signer"].public_key_info().dump())


def test_node_certificate_chains_to_the_ca(site, tmp_path, openssl):
    leaf = x509.load_der_x509_certificate(site["leaf"])
    leaf.verify_directly_issued_by(x509.load_der_x509_certificate(site["ca"]))
    ca_pem, leaf_pem = pem(tmp_path, "ca.pem", site["ca"]), pem(tmp_path, "leaf.pem", site["leaf"])
    result = openssl("verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", ca_pem, leaf_pem)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tampered_node_certificate_is_rejected_by_openssl(site, tmp_path, openssl):
    tampered = bytearray(site["leaf"])
    tampered[-1] ^= 0x01  # the last byte of the signature's s
    ca_pem = pem(tmp_path, "ca.pem", site["ca"])
    leaf_pem = pem(tmp_path, "tampered.pem", bytes(tampered))
    result = openssl("verify", "-CAfile", ca_pem, leaf_pem)
    assert result.returncode != 0
    assert "signature" in (result.stdout + result.stderr).lower()


def test_node_certificate_from_another_ca_is_rejected(site, signer, tmp_path, openssl):
    other_ca = x509_services.build_ca_certificate(signer("other-ca"), "EdgeFaaS site CA", days=365)
    result = openssl("verify", "-CAfile", pem(tmp_path, "other.pem", other_ca), pem(tmp_path, "leaf.pem", site["leaf"]))
    assert result.returncode != 0


def test_csr_with_a_forged_signature_is_refused(site, signer):
    """A CSR for nano-1's key whose signature was made by another Parsec key."""
    from asn1crypto import csr

    request = csr.CertificationRequest.load(site["csr"])
    request["signature"] = signer("thief").sign(request["certification_request_info"].dump())
    with pytest.raises(x509_services.X509Error, match="does not match its public key"):
        x509_services.check_csr(request.dump(), "nano-1")
