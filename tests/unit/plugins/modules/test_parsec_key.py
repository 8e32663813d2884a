"""parsec_key and parsec_info against a fake Parsec service that keeps keys in memory."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.edgefaas.platform.plugins.modules import parsec_info, parsec_key

PING, GENERATE, DESTROY, EXPORT, LIST_PROVIDERS, LIST_OPCODES, LIST_AUTHENTICATORS, LIST_KEYS = 1, 2, 3, 7, 8, 9, 14, 26
ALREADY_EXISTS, DOES_NOT_EXIST = 1139, 1140
MODIFYING = (GENERATE, DESTROY)


class KeyStore:
    """The Parsec operations the modules use, for one client and the MbedCrypto provider (id 1)."""

    def __init__(self, wire):
        self.wire = wire
        self.keys = {}  # name -> (encoded KeyAttributes, public key bytes as Parsec exports them)

    def __call__(self, request):
        handler = {
            PING: lambda body: self.wire.field_varint(1, 1),
            LIST_PROVIDERS: lambda body: self.wire.LIST_PROVIDERS_BODY,
            LIST_OPCODES: lambda body: self.wire.field_bytes(1, bytes((2, 3, 7))),
            LIST_AUTHENTICATORS: lambda body: self.wire.field_bytes(1, self.wire.field_varint(5, 3)),
            LIST_KEYS: self.list_keys,
            GENERATE: self.generate,
            DESTROY: self.destroy,
            EXPORT: self.export,
        }[request.opcode]
        try:
            return self.wire.response(request.opcode, handler(request.body), provider=request.provider)
        except KeyError:
            return self.wire.response(request.opcode, status=DOES_NOT_EXIST, provider=request.provider)
        except FileExistsError:
            return self.wire.response(request.opcode, status=ALREADY_EXISTS, provider=request.provider)

    def list_keys(self, body):
        wire = self.wire
        return b"".join(
            wire.field_bytes(
                1, wire.field_varint(1, 1) + wire.field_bytes(2, name.encode()) + wire.field_bytes(3, attrs)
            )
            for name, (attrs, _public_key) in self.keys.items()
        )

    def generate(self, body):
        fields = self.wire.parse_fields(body)
        name = fields[1].decode()
        if name in self.keys:
            raise FileExistsError(name)
        self.keys[name] = (fields[2], self.public_key_for(fields[2]))
        return b""

    def public_key_for(self, attributes):
        fields = self.wire.parse_fields(attributes)
        key_type, bits = self.wire.parse_fields(fields[1]), fields[2]
        if 10 in key_type:
            public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
            return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        curve = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}[bits]
        public = ec.generate_private_key(curve).public_key()
        return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def destroy(self, body):
        del self.keys[self.wire.parse_fields(body)[1].decode()]
        return b""

    def export(self, body):
        return self.wire.field_bytes(1, self.keys[self.wire.parse_fields(body)[1].decode()][1])


@pytest.fixture
def store(wire):
    return KeyStore(wire)


@pytest.fixture
def service(fake_parsec, store):
    return fake_parsec(store)


def modifying_opcodes(server):
    return [request.opcode for request in server.requests if request.opcode in MODIFYING]


def key_args(service, **args):
    return dict({"name": "node", "type": "ecc", "endpoint": service.endpoint}, **args)


# Validation before any request


@pytest.mark.parametrize(
    "args, problem",
    [
        ({"type": "ecc", "algorithm": "rsa_oaep"}, "rsa_oaep needs an RSA key"),
        ({"type": "ecc", "usage": "encrypt"}, "ecdsa signs, so the key's usage must be signing, not decrypt, encrypt"),
        ({"type": "rsa", "algorithm": "ecdsa"}, "ecdsa needs an ECC key"),
        ({"type": "ecc", "bits": 2048}, "2048 bits is not a secp_r1 curve size: use one of 256, 384, 521"),
        ({"type": "rsa", "bits": 1024}, "1024 bits is not an RSA size we offer"),
        ({"type": "rsa", "curve": "secp_r1"}, "an RSA key has no curve"),
        ({"type": "rsa", "curve": "secp256r1"}, "an RSA key has no curve"),
        ({"type": "ecc", "curve": "secp384r1", "bits": 256}, "curve secp384r1 is 384 bits, not 256"),
        ({"type": "rsa", "algorithm": "rsa_pkcs1v15_crypt", "hash": "sha384"}, "rsa_pkcs1v15_crypt takes no hash"),
        ({"type": "rsa", "usage": "sign", "algorithm": "rsa_oaep"}, "rsa_oaep encrypts"),
        ({"type": "ecc", "provider": "hsm"}, "unknown Parsec provider 'hsm'"),
        ({"type": "ecc", "name": ""}, "name must not be empty"),
    ],
)
def test_impossible_input_fails_before_any_request(fake_parsec, store, args, problem, run_module):
    server = fake_parsec(store)
    result = run_module(parsec_key, dict({"name": "node", "endpoint": server.endpoint}, **args))
    assert result["failed"]
    assert problem in result["msg"]
    assert server.connections == 0


def test_type_is_required_for_present(service, run_module):
    result = run_module(parsec_key, {"name": "node", "endpoint": service.endpoint})
    assert result["failed"]
    assert "type" in result["msg"]
    assert service.connections == 0


# Present


def test_creates_a_missing_key_and_returns_its_public_key(service, store, run_module):
    result = run_module(parsec_key, key_args(service))
    assert (result["failed"], result["changed"]) == (False, True)
    assert modifying_opcodes(service) == [GENERATE]
    public_key = serialization.load_pem_public_key(result["public_key"].encode())
    point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert point == store.keys["node"][1]
    assert result["key"]["attributes"] == {
        "key_type": "ecc_key_pair",
        "bits": 256,
        "curve": "secp_r1",
        "usage": ["sign_hash", "sign_message", "verify_hash", "verify_message"],
        "algorithm": {"family": "asymmetric_signature", "name": "ecdsa", "hash": "sha256"},
    }
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["attributes"]["bits"] == 256


def test_generate_request_is_the_reference_p256_vector(service, run_module):
    run_module(parsec_key, key_args(service, name="k"))
    (generate,) = [request for request in service.requests if request.opcode == GENERATE]
    assert generate.body == bytes.fromhex("0a016b121f0a045a0208021080021a140a0830013801400148011208320622040a021007")
    assert generate.provider == 1


@pytest.mark.parametrize(("curve", "bits"), [("secp256r1", 256), ("secp384r1", 384), ("secp521r1", 521)])
def test_community_crypto_curve_names_give_family_and_size(service, store, run_module, curve, bits):
    result = run_module(parsec_key, key_args(service, curve=curve))
    assert (result["failed"], result["changed"]) == (False, True)
    assert (result["key"]["attributes"]["curve"], result["key"]["attributes"]["bits"]) == ("secp_r1", bits)
    public_key = serialization.load_pem_public_key(result["public_key"].encode())
    assert public_key.curve.name == curve


def test_curve_name_and_family_plus_bits_are_the_same_key(service, run_module):
    run_module(parsec_key, key_args(service, curve="secp_r1", bits=384))
    again = run_module(parsec_key, key_args(service, curve="secp384r1", bits=384))
    assert (again["failed"], again["changed"]) == (False, False)


def test_matching_key_is_left_alone(service, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_key, key_args(service))
    assert (result["failed"], result["changed"]) == (False, False)
    assert modifying_opcodes(service) == [GENERATE]
    assert result["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")


def test_check_mode_never_creates(service, store, run_module):
    result = run_module(parsec_key, key_args(service), check_mode=True)
    assert (result["failed"], result["changed"]) == (False, True)
    assert "public_key" not in result
    assert modifying_opcodes(service) == []
    assert store.keys == {}


def test_different_key_fails_naming_every_difference(service, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_key, key_args(service, type="rsa", usage="encrypt", bits=3072))
    assert result["failed"]
    for difference in (
        "key type is ecc_key_pair (wanted rsa_key_pair)",
        "curve is secp_r1 (wanted None)",
        "bits is 256 (wanted 3072)",
        "usage is sign_hash, sign_message, verify_hash, verify_message (wanted decrypt, encrypt)",
        "algorithm is ecdsa/sha256 (wanted rsa_oaep/sha256)",
    ):
        assert difference in result["msg"]
    assert "force: true" in result["msg"]
    assert modifying_opcodes(service) == [GENERATE]


def test_force_recreates_a_different_key(service, store, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_key, key_args(service, bits=521, hash="sha512", force=True))
    assert (result["failed"], result["changed"]) == (False, True)
    assert modifying_opcodes(service) == [GENERATE, DESTROY, GENERATE]
    assert len(store.keys["node"][1]) == 133  # a P-521 point
    assert result["diff"]["before"]["attributes"]["bits"] == 256
    assert result["diff"]["after"]["attributes"]["bits"] == 521


def test_force_in_check_mode_destroys_nothing(service, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_key, key_args(service, bits=521, force=True), check_mode=True)
    assert (result["failed"], result["changed"]) == (False, True)
    assert modifying_opcodes(service) == [GENERATE]


def test_rsa_defaults(service, store, run_module):
    result = run_module(parsec_key, key_args(service, type="rsa", usage="encrypt"))
    assert result["key"]["attributes"]["algorithm"] == {
        "family": "asymmetric_encryption",
        "name": "rsa_oaep",
        "hash": "sha256",
    }
    assert result["key"]["attributes"]["bits"] == 2048
    public_key = serialization.load_pem_public_key(result["public_key"].encode())
    assert public_key.key_size == 2048


def test_unconfigured_provider_is_named_with_the_configured_ones(service, run_module):
    result = run_module(parsec_key, key_args(service, provider="tpm"))
    assert result["failed"]
    assert "provider tpm is not configured" in result["msg"]
    assert "mbed-crypto (1)" in result["msg"]
    assert modifying_opcodes(service) == []


def test_missing_socket_is_reported(socket_dir, run_module):
    result = run_module(parsec_key, {"name": "node", "type": "ecc", "endpoint": "unix:{}/none.sock".format(socket_dir)})
    assert result["failed"]
    assert "none.sock does not exist" in result["msg"]


# Absent


def test_absent_destroys_an_existing_key(service, store, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_key, {"name": "node", "state": "absent", "endpoint": service.endpoint})
    assert (result["failed"], result["changed"]) == (False, True)
    assert store.keys == {}
    assert result["diff"]["after"] == {}


def test_absent_without_key_is_unchanged(service, run_module):
    result = run_module(parsec_key, {"name": "node", "state": "absent", "endpoint": service.endpoint})
    assert (result["failed"], result["changed"]) == (False, False)
    assert modifying_opcodes(service) == []


def test_absent_in_check_mode_keeps_the_key(service, store, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_key, {"name": "node", "state": "absent", "endpoint": service.endpoint}, check_mode=True)
    assert (result["failed"], result["changed"]) == (False, True)
    assert "node" in store.keys


# parsec_info


def test_info_reports_everything_and_changes_nothing(service, run_module):
    run_module(parsec_key, key_args(service))
    result = run_module(parsec_info, {"endpoint": service.endpoint}, check_mode=True)
    assert (result["failed"], result["changed"]) == (False, False)
    assert result["wire_protocol_version"] == "1.0"
    assert [(p["name"], p["opcodes"]) for p in result["providers"]] == [
        ("mbed-crypto", ["PsaGenerateKey", "PsaDestroyKey", "PsaExportPublicKey"]),
        ("core", ["PsaGenerateKey", "PsaDestroyKey", "PsaExportPublicKey"]),
    ]
    assert [a["name"] for a in result["authenticators"]] == ["unix-peer-credentials"]
    assert [(k["name"], k["provider"], k["attributes"]["curve"]) for k in result["client_keys"]] == [
        ("node", "mbed-crypto", "secp_r1")
    ]
    assert modifying_opcodes(service) == [GENERATE]


def test_info_reports_a_bad_endpoint(run_module):
    result = run_module(parsec_info, {"endpoint": "tcp://localhost:1"})
    assert result["failed"]
    assert "only the unix scheme" in result["msg"]
