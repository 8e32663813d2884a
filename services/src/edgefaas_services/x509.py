# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""X.509 for node admission: the site CA certificate, node CSRs and node certificates.

Structures are built and parsed with asn1crypto; every signature is made by a key held in Parsec
(PsaSignHash over a SHA-256 digest computed here, ECDSA P-256), so no private key is ever in this
process. Parsec returns ECDSA signatures as raw r || s; X.509 and PKCS#10 carry the DER
Ecdsa-Sig-Value (RFC 3279 2.2.3), converted by the Parsec client's der module. Signatures that
arrive from outside (a node's CSR) are checked with `cryptography`.

Profiles (RFC 5280): the CA certificate is self-signed, basicConstraints CA (critical, path length
0: it issues node certificates only), keyUsage keyCertSign + cRLSign (critical), subject key
identifier. A node certificate has subject CN and a single dNSName SAN = the node name,
basicConstraints not a CA, keyUsage digitalSignature, extendedKeyUsage clientAuth, authority key
identifier = the CA's; it never outlives the CA. Serials are random 159-bit positive integers.
Only ECDSA P-256 keys with ecdsa-with-SHA256 are accepted, for the CA and for nodes.

Needs asn1crypto and cryptography (the package's ``server`` extra): the switch and the controller.
Errors: X509Error (a ValueError) names what is wrong; Parsec failures raise the client's ParsecError.
"""

import datetime
import hashlib
import secrets
from typing import List, Optional

from asn1crypto import csr, keys, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .parsec import ParsecClient, ecc_public_key_to_spki, ecdsa, ecdsa_signature_to_der

SIGNATURE_ALGORITHM = "sha256_ecdsa"
CURVE = "secp256r1"
SERIAL_BITS = 159
# Nodes' clocks may lag the switch's by a little: certificates are valid from a little earlier.
BACKDATE = datetime.timedelta(minutes=5)
# RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
_UTC_TIME_LIMIT = datetime.datetime(2050, 1, 1, tzinfo=datetime.timezone.utc)


class X509Error(ValueError):
    """A certificate, CSR or key that this profile refuses; the message names the problem."""


class ParsecSigner:
    """An ECDSA P-256 key held in Parsec, by name: its public key and signatures made by Parsec."""

    def __init__(self, client: ParsecClient, key_name: str) -> None:
        self.client = client
        self.key_name = key_name

    def public_key_info(self) -> keys.PublicKeyInfo:
        """The key's SubjectPublicKeyInfo (Parsec exports 04 || X || Y); X509Error unless P-256."""
        exported = self.client.export_public_key(self.key_name)
        if len(exported) != 65:
            raise X509Error(
                "Parsec key {!r} is not an ECDSA P-256 key ({}-byte public key): create it as "
                "ecc_key_pair, secp_r1, 256 bits, ECDSA-SHA256".format(self.key_name, len(exported))
            )
        return keys.PublicKeyInfo.load(ecc_public_key_to_spki(exported))

    def sign(self, data: bytes) -> bytes:
        """ecdsa-with-SHA256 signature of data by Parsec, as DER Ecdsa-Sig-Value."""
        raw = self.client.sign_hash(self.key_name, ecdsa("sha256"), hashlib.sha256(data).digest())
        return ecdsa_signature_to_der(raw)


def random_serial() -> int:
    """A positive serial of at most 159 bits: unpredictable, and at most 20 octets in DER (RFC 5280)."""
    return secrets.randbits(SERIAL_BITS) or 1


def node_name_problems(node_name: str) -> List[str]:
    """Why node_name cannot be a certificate's CN and dNSName (empty list: it can)."""
    if not node_name or len(node_name) > 64:
        return ["a node name has 1 to 64 characters (CN upper bound, RFC 5280)"]
    if not all(label and label.isascii() and label.replace("-", "").isalnum() for label in node_name.split(".")):
        return ["a node name is DNS labels of letters, digits and '-' separated by dots, not {!r}".format(node_name)]
    return []


def build_ca_certificate(
    signer: ParsecSigner, common_name: str, days: int, now: Optional[datetime.datetime] = None
) -> bytes:
    """DER of a self-signed CA certificate for the signer's key, valid `days` days from now."""
    public_key = _checked_public_key(signer.public_key_info(), "the CA key")
    name = _name(common_name)
    extensions = [
        _extension("basic_constraints", {"ca": True, "path_len_constraint": 0}, critical=True),
        _extension("key_usage", {"key_cert_sign", "crl_sign"}, critical=True),
        _extension("key_identifier", public_key.sha1),
    ]
    not_before, not_after = _validity(now, days)
    tbs = _tbs_certificate(name, name, public_key, not_before, not_after, extensions)
    return _signed_certificate(tbs, signer)


def build_csr(signer: ParsecSigner, node_name: str) -> bytes:
    """DER of a PKCS#10 CSR for the signer's key: subject CN and a single dNSName SAN = node_name."""
    _refuse(node_name_problems(node_name))
    public_key = _checked_public_key(signer.public_key_info(), "the node key")
    san = _extension("subject_alt_name", [x509.GeneralName("dns_name", node_name)])
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": _name(node_name),
            "subject_pk_info": public_key,
            "attributes": [{"type": "extension_request", "values": [[san]]}],
        }
    )
    request = csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": SIGNATURE_ALGORITHM},
            "signature": signer.sign(info.dump()),
        }
    )
    return request.dump()


def check_csr(csr_der: bytes, node_name: str) -> csr.CertificationRequest:
    """The parsed CSR if it is for node_name, for a P-256 key, and signed by that key; else X509Error."""
    try:
        request = csr.CertificationRequest.load(csr_der, strict=True)
        info = request["certification_request_info"]
        problems = _csr_problems(request, node_name)
    except ValueError as error:  # asn1crypto's parse errors are ValueErrors
        raise X509Error("malformed CSR (expected DER PKCS#10): {}".format(error)) from None
    _refuse(problems)
    verify_signature(info["subject_pk_info"], info.dump(), request["signature"].native, "the CSR")
    return request


def issue_certificate(
    ca_signer: ParsecSigner,
    ca_certificate_der: bytes,
    csr_der: bytes,
    node_name: str,
    days: int,
    now: Optional[datetime.datetime] = None,
) -> bytes:
    """DER of a node certificate for a checked CSR (check_csr), signed by the CA key in Parsec.

    Valid `days` days, cut at the CA's notAfter. X509Error when the CSR is refused or the CA key in
    Parsec is not the key of ca_certificate_der.
    """
    request = check_csr(csr_der, node_name)
    ca = x509.Certificate.load(ca_certificate_der)
    if ca_signer.public_key_info().dump() != ca.public_key.dump():
        raise X509Error(
            "Parsec key {!r} is not the key of the CA certificate {!r}: use the CA's own key".format(
                ca_signer.key_name, ca.subject.human_friendly
            )
        )
    info = request["certification_request_info"]
    public_key = info["subject_pk_info"]
    extensions = [
        _extension("basic_constraints", {"ca": False}, critical=True),
        _extension("key_usage", {"digital_signature"}, critical=True),
        _extension("extended_key_usage", ["client_auth"]),
        _extension("subject_alt_name", _requested_san(info)),
        _extension("key_identifier", public_key.sha1),
        _extension("authority_key_identifier", {"key_identifier": ca.key_identifier or ca.public_key.sha1}),
    ]
    not_before, not_after = _validity(now, days)
    not_after = min(not_after, ca["tbs_certificate"]["validity"]["not_after"].native)
    tbs = _tbs_certificate(ca.subject, _name(node_name), public_key, not_before, not_after, extensions)
    return _signed_certificate(tbs, ca_signer)


def verify_signature(public_key: keys.PublicKeyInfo, signed: bytes, signature: bytes, what: str) -> None:
    """Checks an ecdsa-with-SHA256 DER signature over signed by public_key; X509Error if it is wrong."""
    try:
        verifier = serialization.load_der_public_key(public_key.dump())
    except ValueError as error:
        raise X509Error("the public key of {} is unusable: {}".format(what, error)) from None
    try:
        verifier.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise X509Error("the signature of {} does not match its public key".format(what)) from None


def _csr_problems(request: csr.CertificationRequest, node_name: str) -> List[str]:
    info = request["certification_request_info"]
    problems = node_name_problems(node_name)
    problems += _public_key_problems(info["subject_pk_info"], "the CSR's key")
    if request["signature_algorithm"]["algorithm"].native != SIGNATURE_ALGORITHM:
        problems.append(
            "the CSR is signed with {}, not ecdsa-with-SHA256".format(
                request["signature_algorithm"]["algorithm"].native
            )
        )
    if _common_names(info["subject"]) != [node_name]:
        problems.append("the CSR's subject is {!r}, not CN={}".format(info["subject"].human_friendly, node_name))
    san = _requested_san(info).native
    if san != [node_name]:
        problems.append("the CSR's subjectAltName is {}, not the one DNS name {}".format(san, node_name))
    return problems


def _requested_san(info: csr.CertificationRequestInfo) -> x509.GeneralNames:
    """The subjectAltName in the CSR's extensionRequest (empty GeneralNames without one)."""
    for attribute in info["attributes"]:
        if attribute["type"].native != "extension_request":
            continue
        for extensions in attribute["values"]:
            for extension in extensions:
                if extension["extn_id"].native == "subject_alt_name":
                    return extension["extn_value"].parsed
    return x509.GeneralNames([])


def _common_names(name: x509.Name) -> List[str]:
    """The values of every attribute of name: a node's subject holds its CN and nothing else."""
    return [attribute["value"].native for rdn in name.chosen for attribute in rdn]


def _checked_public_key(public_key: keys.PublicKeyInfo, what: str) -> keys.PublicKeyInfo:
    _refuse(_public_key_problems(public_key, what))
    return public_key


def _public_key_problems(public_key: keys.PublicKeyInfo, what: str) -> List[str]:
    algorithm = public_key["algorithm"]["algorithm"].native
    curve = public_key.curve[1] if algorithm == "ec" else None
    if (algorithm, curve) != ("ec", CURVE):
        kind = "{} {}".format(algorithm, curve) if curve else algorithm
        return ["{} is {}, but only ECDSA P-256 (secp256r1) keys are allowed".format(what, kind)]
    return []


def _refuse(problems: List[str]) -> None:
    if problems:
        raise X509Error("; ".join(problems))


def _name(common_name: str) -> x509.Name:
    return x509.Name.build({"common_name": common_name})


def _extension(name: str, value, critical: bool = False) -> x509.Extension:
    return x509.Extension({"extn_id": name, "critical": critical, "extn_value": value})


def _validity(now: Optional[datetime.datetime], days: int):
    """(notBefore, notAfter): from BACKDATE before now (an aware UTC datetime) to `days` days after now."""
    if days < 1:
        raise X509Error("validity must be at least 1 day, not {}".format(days))
    start = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0) - BACKDATE
    return start, start + BACKDATE + datetime.timedelta(days=days)


def _time(moment: datetime.datetime) -> x509.Time:
    return x509.Time({"utc_time" if moment < _UTC_TIME_LIMIT else "general_time": moment})


def _tbs_certificate(issuer, subject, public_key, not_before, not_after, extensions) -> x509.TbsCertificate:
    return x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": random_serial(),
            "signature": {"algorithm": SIGNATURE_ALGORITHM},
            "issuer": issuer,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject,
            "subject_public_key_info": public_key,
            "extensions": extensions,
        }
    )


def _signed_certificate(tbs: x509.TbsCertificate, signer: ParsecSigner) -> bytes:
    certificate = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SIGNATURE_ALGORITHM},
            "signature_value": signer.sign(tbs.dump()),
        }
    )
    return certificate.dump()
