"""Encoding and decoding of the Parsec wire format, byte for byte, without a socket."""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.client import (
    direct_auth,
    socket_path_from_endpoint,
    unix_peer_credentials,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.codes import (
    STATUS_NAMES,
    AuthType,
    Opcode,
    provider_id_from_name,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.der import (
    ecc_public_key_to_spki,
    ecdsa_signature_from_der,
    ecdsa_signature_to_der,
    public_key_pem,
    rsa_public_key_to_spki,
    subject_public_key_info,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.errors import (
    ParsecEndpointError,
    ParsecProtocolError,
    ParsecTruncatedResponseError,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.keys import (
    ENCRYPT_USAGE,
    HASH_ANY,
    SIGN_USAGE,
    Algorithm,
    KeyAttributes,
    decode_key_attributes,
    ecdsa,
    key_attribute_problems,
    rsa_oaep,
    rsa_pkcs1v15_crypt,
    rsa_pss,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.operations import (
    AuthenticatorInfo,
    KeyInfo,
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
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.wire import (
    HEADER_LENGTH,
    Auth,
    ResponseHeader,
    decode_response_header,
    encode_request,
)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# parsec-interface-rs, request test "request 1": Core provider, session 0x1122334455667788,
# Direct auth, opcode Ping, body 70 80 90, auth A0 B0 C0.
UPSTREAM_REQUEST_1 = hexbytes(
    "10 A7 C0 5E 1E 00 01 00 00 00 00 88 77 66 55 44 33 22 11 00 00 01 03 00 00 00 03 00 01 00 00 00"
    " 00 00 00 00 70 80 90 A0 B0 C0"
)
# The matching response: auth type 0, auth length 0, status 0, same body.
UPSTREAM_RESPONSE_1 = hexbytes(
    "10 A7 C0 5E 1E 00 01 00 00 00 00 88 77 66 55 44 33 22 11 00 00 00 03 00 00 00 00 00 01 00 00 00"
    " 00 00 00 00 70 80 90"
)
NO_AUTH_PING = hexbytes("10 A7 C0 5E 1E 00 01 00" + " 00" * 20 + " 01 00 00 00 00 00 00 00")
ECC_P256_GENERATE_KEY_BODY = hexbytes(
    "0a 01 6b 12 1f 0a 04 5a 02 08 02 10 80 02 1a 14 0a 08 30 01 38 01 40 01 48 01 12 08 32 06 22 04 0a 02 10 07"
)
P256_ECDSA_SHA256_KEY = KeyAttributes("ecc_key_pair", 256, "secp_r1", SIGN_USAGE, ecdsa("sha256"))
RSA_OAEP_KEY = KeyAttributes("rsa_key_pair", 2048, None, ENCRYPT_USAGE, rsa_oaep("sha256"))


class TestRequestHeader:
    def test_upstream_request_1_byte_for_byte(self):
        auth = Auth(AuthType.DIRECT, hexbytes("A0 B0 C0"))
        request = encode_request(
            Opcode.PING, hexbytes("70 80 90"), provider_id=0, auth=auth, session=0x1122334455667788
        )
        assert request == UPSTREAM_REQUEST_1

    def test_no_auth_ping_byte_for_byte(self):
        assert encode_request(Opcode.PING) == NO_AUTH_PING

    def test_header_is_36_bytes(self):
        assert HEADER_LENGTH == 36

    def test_crypto_request_carries_provider_auth_and_lengths(self):
        auth = unix_peer_credentials(uid=1000)
        request = encode_request(Opcode.PSA_SIGN_HASH, b"\x01\x02", provider_id=3, auth=auth)
        assert request[10] == 3  # provider
        assert request[21] == 3  # UnixPeerCredentials
        assert struct.unpack_from("<IHI", request, 22) == (2, 4, 0x04)  # body length, auth length, opcode
        assert request[36:] == b"\x01\x02" + hexbytes("e8 03 00 00")


class TestResponseHeader:
    def test_upstream_response_1(self):
        header = decode_response_header(UPSTREAM_RESPONSE_1[:36])
        assert header == ResponseHeader(
            provider_id=0, session=0x1122334455667788, content_type=0, body_length=3, opcode=1, status=0
        )

    @pytest.mark.parametrize(
        "offset, value, message",
        [
            (0, b"\x11\xa7\xc0\x5e", "magic"),
            (4, b"\x1f\x00", "header size"),
            (6, b"\x02", "wire protocol 2.0"),
            (7, b"\x01", "wire protocol 1.1"),
            (34, b"\x00\x01", "reserved"),
            (35, b"\x01", "reserved"),
        ],
    )
    def test_malformed_fields_are_rejected(self, offset, value, message):
        data = bytearray(UPSTREAM_RESPONSE_1[:36])
        data[offset : offset + len(value)] = value
        with pytest.raises(ParsecProtocolError, match=message):
            decode_response_header(bytes(data))

    def test_short_header_is_truncated(self):
        with pytest.raises(ParsecTruncatedResponseError):
            decode_response_header(UPSTREAM_RESPONSE_1[:35])


class TestAuthentication:
    def test_unix_peer_credentials_is_the_effective_uid_little_endian(self, monkeypatch):
        monkeypatch.setattr(os, "geteuid", lambda: 0x01020304)
        assert unix_peer_credentials() == Auth(3, hexbytes("04 03 02 01"))

    def test_direct_is_the_utf8_application_name(self):
        assert direct_auth("agent-é") == Auth(1, "agent-é".encode())

    def test_direct_needs_a_name(self):
        with pytest.raises(ValueError):
            direct_auth("")


class TestEndpoint:
    def test_default_socket(self, monkeypatch):
        monkeypatch.delenv("PARSEC_SERVICE_ENDPOINT", raising=False)
        assert socket_path_from_endpoint() == "/run/parsec/parsec.sock"

    def test_environment(self, monkeypatch):
        monkeypatch.setenv("PARSEC_SERVICE_ENDPOINT", "unix:/tmp/p.sock")
        assert socket_path_from_endpoint() == "/tmp/p.sock"

    def test_explicit_endpoint_wins_over_environment(self, monkeypatch):
        monkeypatch.setenv("PARSEC_SERVICE_ENDPOINT", "unix:/tmp/p.sock")
        assert socket_path_from_endpoint("unix:/run/x.sock") == "/run/x.sock"

    def test_empty_authority_form(self):
        assert socket_path_from_endpoint("unix:///run/parsec/parsec.sock") == "/run/parsec/parsec.sock"

    @pytest.mark.parametrize(
        "endpoint",
        ["tcp://127.0.0.1:1234", "/run/parsec/parsec.sock", "unix:parsec.sock", "unix://host/x.sock", "unix:"],
    )
    def test_other_endpoints_are_refused_with_an_example(self, endpoint):
        with pytest.raises(ParsecEndpointError, match=r"unix:/run/parsec/parsec\.sock"):
            socket_path_from_endpoint(endpoint)


class TestRequestBodies:
    def test_generate_ecc_key_matches_protoc(self):
        assert encode_generate_key("k", P256_ECDSA_SHA256_KEY) == ECC_P256_GENERATE_KEY_BODY

    def test_generate_rsa_key_keeps_the_empty_key_type_message(self):
        # rsa_key_pair is an empty message (52 00): leaving it out makes the service answer InvalidEncoding.
        expected = hexbytes(
            "0a 01 72 12 17"
            " 0a 02 52 00"  # key_type { rsa_key_pair {} }
            " 10 80 10"  # key_bits 2048
            " 1a 0e 0a 04 20 01 28 01"  # key_policy { usage { encrypt decrypt }
            " 12 06 3a 04 12 02 08 07"  # algorithm { asymmetric_encryption { rsa_oaep { SHA_256 } } } }
        )
        assert encode_generate_key("r", RSA_OAEP_KEY) == expected

    def test_policy_without_usage_keeps_an_empty_usage_message(self):
        attributes = KeyAttributes("ecc_key_pair", 256, "secp_r1", frozenset(), ecdsa())
        body = encode_generate_key("k", attributes)
        assert hexbytes("1a 0c 0a 00 12 08") in body

    def test_destroy_and_export_carry_only_the_name(self):
        assert encode_key_name("node") == hexbytes("0a 04") + b"node"

    def test_sign_hash(self):
        digest = bytes(range(32))
        expected = hexbytes("0a 01 6b 12 06 22 04 0a 02 10 07 1a 20") + digest
        assert encode_sign_hash("k", ecdsa(), digest) == expected

    def test_sign_hash_with_any_hash_sends_the_empty_any_message(self):
        algorithm = Algorithm("asymmetric_signature", "ecdsa", HASH_ANY)
        assert encode_sign_hash("k", algorithm, b"") == hexbytes("0a 01 6b 12 06 22 04 0a 02 0a 00")

    def test_verify_hash_appends_the_signature(self):
        body = encode_verify_hash("k", rsa_pss("sha384"), b"\xaa", b"\xbb\xcc")
        assert body == hexbytes("0a 01 6b 12 06 1a 04 0a 02 10 08 1a 01 aa 22 02 bb cc")

    def test_encrypt_with_pkcs1v15_keeps_the_empty_algorithm_message(self):
        body = encode_asymmetric_crypt("r", rsa_pkcs1v15_crypt(), b"hi")
        assert body == hexbytes("0a 01 72 12 02 0a 00 1a 02") + b"hi"

    def test_decrypt_with_oaep_and_salt(self):
        body = encode_asymmetric_crypt("r", rsa_oaep("sha256"), b"\x01", salt=b"\x02")
        assert body == hexbytes("0a 01 72 12 04 12 02 08 07 1a 01 01 22 01 02")

    def test_list_opcodes_of_core_is_empty_and_of_mbed_crypto_names_it(self):
        assert encode_list_opcodes(0) == b""
        assert encode_list_opcodes(1) == hexbytes("08 01")

    def test_long_varints(self):
        attributes = KeyAttributes("rsa_key_pair", 4096, None, ENCRYPT_USAGE, rsa_oaep())
        assert hexbytes("10 80 20") in encode_generate_key("r", attributes)

    def test_sign_with_an_encryption_algorithm_is_refused(self):
        with pytest.raises(ValueError, match="not a signature algorithm"):
            encode_sign_hash("k", rsa_oaep(), b"")


class TestResultBodies:
    def test_ping(self):
        assert decode_ping_result(hexbytes("08 01")) == (1, 0)

    def test_list_providers(self, wire):
        providers = decode_list_providers_result(wire.LIST_PROVIDERS_BODY)
        assert [(p.id, p.name, p.vendor, p.version) for p in providers] == [
            (1, "mbed-crypto", "Arm", "0.1.0"),
            (0, "core", "", "1.4.1"),
        ]
        assert providers[0].uuid == "1c1139dc-ad7c-47dc-ad6b-db6fdb466552"

    def test_list_authenticators(self, wire):
        info = wire.field_bytes(1, b"Unix peer credentials") + wire.field_varint(3, 1) + wire.field_varint(5, 3)
        (authenticator,) = decode_list_authenticators_result(wire.field_bytes(1, info))
        assert authenticator == AuthenticatorInfo(3, "Unix peer credentials", "0.1.0")
        assert authenticator.name == "unix-peer-credentials"

    @pytest.mark.parametrize("body", ["0a 03 02 09 03", "08 02 08 09 08 03"], ids=["packed", "unpacked"])
    def test_list_opcodes(self, body):
        assert decode_list_opcodes_result(hexbytes(body)) == [2, 3, 9]

    def test_list_keys_decodes_attributes(self, wire):
        attributes = ECC_P256_GENERATE_KEY_BODY[5:]  # KeyAttributes inside the generate-key vector
        key_info = wire.field_varint(1, 1) + wire.field_bytes(2, b"node") + wire.field_bytes(3, attributes)
        (key,) = decode_list_keys_result(wire.field_bytes(1, key_info))
        assert key == KeyInfo("node", 1, P256_ECDSA_SHA256_KEY)

    @pytest.mark.parametrize(
        "attributes",
        [
            RSA_OAEP_KEY,
            KeyAttributes("rsa_key_pair", 3072, None, ENCRYPT_USAGE, rsa_pkcs1v15_crypt()),
            KeyAttributes("rsa_key_pair", 4096, None, SIGN_USAGE, rsa_pss("sha512")),
            KeyAttributes("ecc_key_pair", 521, "secp_r1", SIGN_USAGE, ecdsa("sha512")),
            KeyAttributes("ecc_key_pair", 384, "secp_r1", frozenset({"sign_hash"}), ecdsa(HASH_ANY)),
            KeyAttributes("aes", 128, None, frozenset({"export", "derive"}), Algorithm("none")),
        ],
    )
    def test_key_attributes_survive_a_round_trip(self, wire, attributes):
        encoded_attributes = wire.parse_fields(encode_generate_key("x", attributes))[2]
        key_info = wire.field_varint(1, 1) + wire.field_bytes(2, b"x") + wire.field_bytes(3, encoded_attributes)
        (key,) = decode_list_keys_result(wire.field_bytes(1, key_info))
        assert key.attributes == attributes

    def test_unknown_algorithm_families_are_named_not_fatal(self, wire):
        # key_policy { usage {} algorithm { mac { ... } } }
        policy = wire.field_bytes(1, b"") + wire.field_bytes(2, wire.field_bytes(3, wire.field_bytes(1, b"")))
        attributes = (
            wire.field_bytes(1, wire.field_bytes(2, b"")) + wire.field_varint(2, 256) + wire.field_bytes(3, policy)
        )
        decoded = decode_key_attributes(attributes)
        assert (decoded.key_type, decoded.algorithm) == ("hmac", Algorithm("mac"))

    def test_data_result(self):
        assert decode_data_result(hexbytes("0a 03 01 02 03")) == b"\x01\x02\x03"

    def test_unknown_fields_are_skipped(self):
        # field 15 as fixed32 and field 16 as fixed64 before the known one
        body = hexbytes("7d 01 02 03 04 81 01 01 02 03 04 05 06 07 08 08 01")
        assert decode_ping_result(body) == (1, 0)

    @pytest.mark.parametrize(
        "body, problem",
        [
            ("08", "truncated varint"),
            ("0a 05 01 02", "past the end"),
            ("0b", "wire type 3"),
            ("00 01", "field number 0"),
            ("08 ff ff ff ff ff ff ff ff ff ff 01", "longer than 10 bytes"),
        ],
    )
    def test_malformed_protobuf(self, body, problem):
        with pytest.raises(ParsecProtocolError, match=problem):
            decode_ping_result(hexbytes(body))

    def test_wrong_wire_type_for_a_known_field(self):
        with pytest.raises(ParsecProtocolError, match="not length-delimited"):
            decode_data_result(hexbytes("08 01"))

    def test_text_must_be_utf8(self, wire):
        provider = wire.field_bytes(1, b"\xff\xfe")
        with pytest.raises(ParsecProtocolError, match="UTF-8"):
            decode_list_providers_result(wire.field_bytes(1, provider))


# Every status of the reference, by number and name.
REFERENCE_STATUSES = {
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


def test_status_table_matches_the_reference():
    assert STATUS_NAMES == REFERENCE_STATUSES


class TestKeyAttributeProblems:
    def test_good_keys_have_none(self):
        assert key_attribute_problems(P256_ECDSA_SHA256_KEY) == []
        assert key_attribute_problems(RSA_OAEP_KEY) == []

    @pytest.mark.parametrize(
        "attributes, problem",
        [
            (KeyAttributes("ecc_key_pair", 256, "secp_r1", ENCRYPT_USAGE, rsa_oaep()), "RSA key"),
            (KeyAttributes("rsa_key_pair", 2048, None, SIGN_USAGE, ecdsa()), "ECC key"),
            (KeyAttributes("ecc_key_pair", 2048, "secp_r1", SIGN_USAGE, ecdsa()), "256, 384, 521"),
            (KeyAttributes("ecc_key_pair", 256, "secp_k1", SIGN_USAGE, ecdsa()), "secp_r1"),
            (KeyAttributes("rsa_key_pair", 1000, None, SIGN_USAGE, rsa_pss()), "2048, 3072"),
            (KeyAttributes("rsa_key_pair", 2048, "secp_r1", SIGN_USAGE, rsa_pss()), "no curve"),
            (
                KeyAttributes("rsa_key_pair", 2048, None, ENCRYPT_USAGE, rsa_pss()),
                "must be signing",
            ),
            (KeyAttributes("rsa_key_pair", 2048, None, SIGN_USAGE, rsa_oaep()), "encryption"),
            (
                KeyAttributes(
                    "rsa_key_pair",
                    2048,
                    None,
                    ENCRYPT_USAGE,
                    Algorithm("asymmetric_encryption", "rsa_pkcs1v15_crypt", "sha256"),
                ),
                "takes no hash",
            ),
            (
                KeyAttributes("rsa_key_pair", 2048, None, ENCRYPT_USAGE, rsa_oaep("none")),
                "needs a hash",
            ),
            (KeyAttributes("rsa_key_pair", 2048, None, ENCRYPT_USAGE, None), "algorithm is required"),
            (KeyAttributes("aes", 128, None, ENCRYPT_USAGE, rsa_oaep()), "not supported"),
        ],
    )
    def test_impossible_combinations(self, attributes, problem):
        problems = key_attribute_problems(attributes)
        assert any(problem in text for text in problems), problems


class TestProviderNames:
    @pytest.mark.parametrize(
        "given, expected", [(1, 1), ("1", 1), ("mbed-crypto", 1), ("MbedCrypto", 1), ("TPM", 3), ("trusted_service", 4)]
    )
    def test_names_and_ids(self, given, expected):
        assert provider_id_from_name(given) == expected

    def test_unknown_name_lists_the_known_ones(self):
        with pytest.raises(ValueError, match="mbed-crypto, pkcs11, tpm"):
            provider_id_from_name("hsm")


class TestPublicKeyEncoding:
    @pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()], ids=lambda c: c.name)
    def test_ecc_point_to_spki_matches_cryptography(self, curve):
        public_key = ec.generate_private_key(curve).public_key()
        point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        expected = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert ecc_public_key_to_spki(point) == expected

    def test_rsa_pkcs1_to_spki_and_pem_match_cryptography(self):
        public_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        pkcs1 = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        attributes = KeyAttributes("rsa_key_pair", 2048, None, SIGN_USAGE, rsa_pss())
        pem = public_key_pem(subject_public_key_info(pkcs1, attributes))
        expected = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert pem == expected.decode()

    @pytest.mark.parametrize("point", [b"\x04" + b"\x01" * 63, b"\x02" + b"\x01" * 64, b""])
    def test_bad_points_are_refused(self, point):
        with pytest.raises(ValueError, match="uncompressed"):
            ecc_public_key_to_spki(point)

    def test_non_der_rsa_key_is_refused(self):
        with pytest.raises(ValueError, match="PKCS#1"):
            rsa_public_key_to_spki(b"\x04\x01")


class TestEcdsaSignatureEncoding:
    @pytest.mark.parametrize(
        "r, s",
        [(1, 2), (2**255 + 5, 7), (0x7F, 0x80), (2**520 + 3, 2**519)],
        ids=["tiny", "high-bit", "byte-edges", "p521"],
    )
    def test_raw_to_der_matches_cryptography(self, r, s):
        size = 66 if r > 2**300 else 32
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        assert ecdsa_signature_to_der(raw) == encode_dss_signature(r, s)

    def test_der_to_raw_pads_to_the_curve_size(self):
        raw = ecdsa_signature_from_der(encode_dss_signature(1, 2**255), 256)
        assert raw == (1).to_bytes(32, "big") + (2**255).to_bytes(32, "big")

    def test_signature_from_cryptography_round_trips(self):
        from cryptography.hazmat.primitives import hashes

        der = ec.generate_private_key(ec.SECP384R1()).sign(b"data", ec.ECDSA(hashes.SHA384()))
        raw = ecdsa_signature_from_der(der, 384)
        assert len(raw) == 96
        assert decode_dss_signature(ecdsa_signature_to_der(raw)) == decode_dss_signature(der)

    @pytest.mark.parametrize(
        "der", ["31 00", "30 03 02 01 01", "30 06 02 01 01 02 01 01 00", "30 06 02 01 01 02 02 01"]
    )
    def test_malformed_der_is_refused(self, der):
        with pytest.raises(ValueError, match="DER"):
            ecdsa_signature_from_der(hexbytes(der), 256)

    def test_odd_raw_length_is_refused(self):
        with pytest.raises(ValueError, match="even"):
            ecdsa_signature_to_der(b"\x01\x02\x03")
