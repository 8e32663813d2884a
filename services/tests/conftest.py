"""Fixtures for the services' unit tests. They import edgefaas_services from the built wheel
(`make units` builds it and puts it on PYTHONPATH), so the tests check what the roles install."""

from __future__ import annotations

import hashlib
import importlib.util

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

if importlib.util.find_spec("edgefaas_services") is None:  # a set-up problem, said plainly
    raise ImportError(
        "edgefaas_services is not importable: run `make units` (it builds the wheel with "
        "services/build_wheel.py and puts it on PYTHONPATH)"
    )


class FakeParsecClient:
    """Stands in for ParsecClient in unit tests: keys by name, Parsec's export and signature formats
    (04 || X || Y, raw r || s), and a count of signatures so a test can see Parsec was used."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.signatures = 0

    def generate(self, name: str, curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
        self.keys[name] = ec.generate_private_key(curve or ec.SECP256R1())
        return self.keys[name]

    def export_public_key(self, name: str) -> bytes:
        return (
            self.keys[name]
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )

    def sign_hash(self, name: str, algorithm, digest: bytes) -> bytes:
        assert algorithm.family == "asymmetric_signature", algorithm
        assert len(digest) == hashlib.sha256().digest_size
        self.signatures += 1
        der = self.keys[name].sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        size = (self.keys[name].curve.key_size + 7) // 8
        return b"".join(value.to_bytes(size, "big") for value in utils.decode_dss_signature(der))


@pytest.fixture
def parsec() -> FakeParsecClient:
    return FakeParsecClient()
