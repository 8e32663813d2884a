#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: parsec_key
short_description: Create or destroy a key pair inside a Parsec security service
version_added: 0.1.0
description:
  - Makes sure an RSA or ECC key pair with the given policy exists, or does not exist, among the keys of
    the calling identity in a Parsec service.
  - The private key never leaves Parsec. The module returns the public key only and never asks for the
    key to be exportable.
  - Keys belong to the identity that makes the request. With the C(UnixPeerCredentials) authenticator
    that is the user the module runs as, so C(become_user) chooses the namespace; two users can hold
    keys of the same name.
  - A key's attributes cannot be changed. A key that exists with other attributes is an error that names
    each difference, unless O(force=true).
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.parsec
  - edgefaas.platform.parsec.provider
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reads the service's keys but never creates or destroys one.
  diff_mode:
    support: full
    description: Shows the key's attributes before and after (never key material).
  platform:
    platforms: posix
options:
  name:
    description:
      - Name of the key, unique per identity and provider.
    type: str
    required: true
  state:
    description:
      - V(present) creates the key when it does not exist.
      - V(absent) destroys the key when it exists; its private key is lost for good.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - Kind of key pair. Required when O(state=present).
    type: str
    choices: [rsa, ecc]
  curve:
    description:
      - Curve of an ECC key. Not allowed for RSA keys.
      - Either Parsec's curve family V(secp_r1) (NIST P-256, P-384, P-521), whose size is O(bits), or a curve
        name as community.crypto and OpenSSL spell it, which gives the size too (V(secp256r1) for P-256,
        V(secp384r1) for P-384, V(secp521r1) for P-521). With a curve name, O(bits) may be left out; if given, it must
        match.
      - Defaults to V(secp_r1) for ECC keys; every provider supports it.
    type: str
    choices: [secp_r1, secp256r1, secp384r1, secp521r1]
  bits:
    description:
      - Key size. ECC V(secp_r1) keys take V(256), V(384) or V(521) (default V(256), or the size the O(curve) name
        gives); RSA keys take V(2048), V(3072) or V(4096) (default V(2048)).
      - Providers support different sizes. Parsec 1.4's MbedCrypto provider refuses V(384) and V(3072)
        (C(PsaErrorInvalidArgument)); RSA-4096 generation there takes seconds.
    type: int
  usage:
    description:
      - What the key is for. V(sign) permits signing and verifying hashes and messages;
        V(encrypt) permits encrypting and decrypting.
      - Defaults to what O(algorithm) does, else V(sign).
    type: str
    choices: [sign, encrypt]
  algorithm:
    description:
      - The one algorithm the key's policy permits.
      - V(ecdsa) needs an ECC key; V(rsa_pkcs1v15_sign), V(rsa_pss), V(rsa_oaep) and V(rsa_pkcs1v15_crypt) an RSA key.
      - Defaults to V(ecdsa) for ECC keys, V(rsa_pkcs1v15_sign) for RSA signing keys and V(rsa_oaep) for RSA
        encryption keys.
    type: str
    choices: [ecdsa, rsa_pkcs1v15_sign, rsa_pss, rsa_oaep, rsa_pkcs1v15_crypt]
  hash:
    description:
      - Hash used with O(algorithm). Defaults to V(sha256) for every algorithm except V(rsa_pkcs1v15_crypt),
        which takes none.
    type: str
    choices: [sha256, sha384, sha512]
  force:
    description:
      - When the key exists with other attributes, destroy it and create a new one instead of failing.
        The old private key is lost, and everything signed or encrypted for it with it.
    type: bool
    default: false
notes:
  - Parsec has no call to read one key's attributes; the module compares those that ListKeys reports.
seealso:
  - module: edgefaas.platform.parsec_info
"""

EXAMPLES = r"""
- name: The node's identity key (ECDSA P-256), public key for its certificate request
  edgefaas.platform.parsec_key:
    name: node-identity
    type: ecc
  register: identity

- name: An RSA key that receives secrets (RSA-OAEP with SHA-256)
  edgefaas.platform.parsec_key:
    name: node-transport
    type: rsa
    usage: encrypt

- name: The site CA key in the TPM provider, as the key of the edgefaas-ca user
  edgefaas.platform.parsec_key:
    name: site-ca
    type: ecc
    provider: tpm
  become: true
  become_user: edgefaas-ca

- name: A P-384 key, with the curve name community.crypto uses
  edgefaas.platform.parsec_key:
    name: site-ca
    type: ecc
    curve: secp384r1
    hash: sha384

- name: Replace a key created earlier with other attributes
  edgefaas.platform.parsec_key:
    name: node-identity
    type: ecc
    bits: 521
    hash: sha512
    force: true

- name: Remove a key
  edgefaas.platform.parsec_key:
    name: old-key
    state: absent
"""

RETURN = r"""
public_key:
  description:
    - The public key as a PEM SubjectPublicKeyInfo.
    - Not returned in check mode when the key would be created.
  returned: when O(state=present)
  type: str
  sample: |
    -----BEGIN PUBLIC KEY-----
    MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEod9ZAHthqJzTW++PdM1RAEhivfUA
    JY8ndempYc1844JPi/q1+HuGzJW5r1AsI2J/dnIqfljllOdLI86nHrkkmw==
    -----END PUBLIC KEY-----
key:
  description: The key as it is now (in check mode, as it would be).
  returned: when O(state=present)
  type: dict
  contains:
    name:
      description: Key name.
      type: str
      sample: node-identity
    provider_id:
      description: Id of the provider that holds the key.
      type: int
      sample: 1
    provider:
      description: Name of the provider that holds the key.
      type: str
      sample: mbed-crypto
    attributes:
      description: The key's type, size and policy, in Parsec's terms.
      type: dict
      contains:
        key_type:
          description: V(ecc_key_pair) or V(rsa_key_pair).
          type: str
          sample: ecc_key_pair
        bits:
          description: Key size in bits.
          type: int
          sample: 256
        curve:
          description: Curve family of an ECC key; null for RSA keys.
          type: str
          sample: secp_r1
        usage:
          description: Usage flags of the key's policy.
          type: list
          elements: str
          sample: [sign_hash, sign_message, verify_hash, verify_message]
        algorithm:
          description: The algorithm the key's policy permits.
          type: dict
          sample: {family: asymmetric_signature, name: ecdsa, hash: sha256}
"""

from typing import List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec import (
    ENCRYPT_USAGE,
    SIGN_USAGE,
    Algorithm,
    KeyAttributes,
    KeyInfo,
    ParsecClient,
    ParsecError,
    key_attribute_problems,
    provider_id_from_name,
    public_key_pem,
    subject_public_key_info,
)
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec_args import (
    parsec_argument_spec,
    parsec_client,
    resolve_provider,
)

USAGE_FLAGS = {"sign": SIGN_USAGE, "encrypt": ENCRYPT_USAGE}
ALGORITHM_USAGE = {
    "ecdsa": "sign",
    "rsa_pkcs1v15_sign": "sign",
    "rsa_pss": "sign",
    "rsa_oaep": "encrypt",
    "rsa_pkcs1v15_crypt": "encrypt",
}
ALGORITHM_FAMILY = {"sign": "asymmetric_signature", "encrypt": "asymmetric_encryption"}
DEFAULT_BITS = {"ecc": 256, "rsa": 2048}
# Curve names of community.crypto and OpenSSL (SEC 2) -> Parsec's family and the size they fix.
NAMED_CURVES = {"secp256r1": ("secp_r1", 256), "secp384r1": ("secp_r1", 384), "secp521r1": ("secp_r1", 521)}
DEFAULT_RSA_ALGORITHM = {"sign": "rsa_pkcs1v15_sign", "encrypt": "rsa_oaep"}


def argument_spec() -> dict:
    return parsec_argument_spec(
        with_provider=True,
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        type={"type": "str", "choices": ["rsa", "ecc"]},
        curve={"type": "str", "choices": ["secp_r1", *sorted(NAMED_CURVES)]},
        bits={"type": "int"},
        usage={"type": "str", "choices": ["sign", "encrypt"]},
        algorithm={"type": "str", "choices": sorted(ALGORITHM_USAGE)},
        hash={"type": "str", "choices": ["sha256", "sha384", "sha512"]},
        force={"type": "bool", "default": False},
    )


def desired_attributes(params: dict) -> KeyAttributes:
    """The key the options describe, with the documented defaults filled in (not yet validated)."""
    key_type = params["type"]
    algorithm_name = params["algorithm"]
    usage = params["usage"] or ALGORITHM_USAGE.get(algorithm_name, "sign")
    if algorithm_name is None:
        algorithm_name = "ecdsa" if key_type == "ecc" else DEFAULT_RSA_ALGORITHM[usage]
    hash_name = params["hash"]
    if hash_name is None and algorithm_name != "rsa_pkcs1v15_crypt":
        hash_name = "sha256"
    curve, bits = params["curve"], params["bits"]
    if curve in NAMED_CURVES:
        curve, named_bits = NAMED_CURVES[curve]
        bits = named_bits if bits is None else bits
    if key_type == "ecc" and curve is None:
        curve = "secp_r1"
    return KeyAttributes(
        key_type="ecc_key_pair" if key_type == "ecc" else "rsa_key_pair",
        bits=DEFAULT_BITS[key_type] if bits is None else bits,
        curve=curve,
        usage=USAGE_FLAGS[usage],
        algorithm=Algorithm(ALGORITHM_FAMILY[ALGORITHM_USAGE[algorithm_name]], algorithm_name, hash_name),
    )


def input_problems(params: dict) -> List[str]:
    """Everything wrong with the options, found before talking to the service."""
    problems = []
    if not params["name"]:
        problems.append("name must not be empty")
    if params["provider"] is not None:
        try:
            provider_id_from_name(params["provider"])
        except ValueError as error:
            problems.append(str(error))
    named = NAMED_CURVES.get(params["curve"])
    if named and params["bits"] is not None and params["bits"] != named[1]:
        problems.append(
            "curve {} is {} bits, not {}: leave bits out or make them match".format(
                params["curve"], named[1], params["bits"]
            )
        )
    if params["state"] == "present":
        problems.extend(key_attribute_problems(desired_attributes(params)))
    return problems


def describe_algorithm(algorithm: Optional[Algorithm]) -> str:
    if algorithm is None:
        return "none"
    return "{}/{}".format(algorithm.name, algorithm.hash) if algorithm.hash else str(algorithm.name or algorithm.family)


def attribute_differences(current: KeyAttributes, desired: KeyAttributes) -> List[str]:
    shown = (
        ("key type", lambda attributes: attributes.key_type),
        ("curve", lambda attributes: attributes.curve),
        ("bits", lambda attributes: attributes.bits),
        ("usage", lambda attributes: ", ".join(sorted(attributes.usage)) or "none"),
        ("algorithm", lambda attributes: describe_algorithm(attributes.algorithm)),
    )
    return [
        "{} is {} (wanted {})".format(label, value(current), value(desired))
        for label, value in shown
        if value(current) != value(desired)
    ]


def key_diff(name: str, before: Optional[KeyInfo], after: Optional[KeyInfo]) -> dict:
    return {
        "before_header": "parsec key {} (before)".format(name),
        "after_header": "parsec key {} (after)".format(name),
        "before": before.to_dict() if before else {},
        "after": after.to_dict() if after else {},
    }


def ensure_absent(module: AnsibleModule, client: ParsecClient) -> dict:
    name = module.params["name"]
    existing = client.find_key(name)
    if existing and not module.check_mode:
        client.destroy_key(name)
    result = {"changed": existing is not None}
    if module._diff:
        result["diff"] = key_diff(name, existing, None)
    return result


def ensure_present(module: AnsibleModule, client: ParsecClient) -> dict:
    name = module.params["name"]
    desired = KeyInfo(name, client.provider_id, desired_attributes(module.params))
    existing = client.find_key(name)
    must_destroy = existing is not None and existing.attributes != desired.attributes
    if must_destroy and not module.params["force"]:
        module.fail_json(
            msg="Parsec key {} exists with other attributes: {}. Set force: true to destroy it and create a new "
            "key (its private key is lost), or choose another name.".format(
                name, "; ".join(attribute_differences(existing.attributes, desired.attributes))
            )
        )
    changed = existing is None or must_destroy
    if changed and not module.check_mode:
        replace_key(client, name, desired.attributes, must_destroy)
    result = {"changed": changed, "key": desired.to_dict()}
    if not (changed and module.check_mode):
        exported = client.export_public_key(name)
        result["public_key"] = public_key_pem(subject_public_key_info(exported, desired.attributes))
    if module._diff:
        result["diff"] = key_diff(name, existing, desired)
    return result


def replace_key(client: ParsecClient, name: str, attributes: KeyAttributes, destroy_first: bool) -> None:
    if destroy_first:
        client.destroy_key(name)
    try:
        client.generate_key(name, attributes)
    except ParsecError as error:
        if destroy_first:
            raise ParsecError(
                "the old key {} was destroyed but creating the new one failed: {}".format(name, error)
            ) from error
        raise


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ("type",))],
        supports_check_mode=True,
    )
    problems = input_problems(module.params)
    if problems:
        module.fail_json(
            msg="parsec_key cannot manage key {!r}: {}.".format(module.params["name"], "; ".join(problems))
        )
    try:
        client = parsec_client(module.params)
        resolve_provider(client, module.params["provider"])
        ensure = ensure_absent if module.params["state"] == "absent" else ensure_present
        result = ensure(module, client)
    except (ParsecError, ValueError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
