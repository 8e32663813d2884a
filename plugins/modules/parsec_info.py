#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: parsec_info
short_description: Read what a Parsec security service offers and which keys the caller holds in it
version_added: 0.1.0
description:
  - Asks a Parsec service, over its wire protocol, for its wire protocol version, its providers with
    the operations each supports, its authenticators, and the keys of the calling identity.
  - Keys are listed for the identity the module authenticates as (the user it runs as, or O(app_name)),
    never those of other clients.
  - Only reads; never changes the service.
author:
  - EdgeFaaS platform developers (@edgefaas)
extends_documentation_fragment:
  - edgefaas.platform.parsec
  - edgefaas.platform.attributes.read_only
  - ansible.builtin.action_common_attributes
options: {}
seealso:
  - module: edgefaas.platform.parsec_key
"""

EXAMPLES = r"""
- name: Read the local Parsec service
  edgefaas.platform.parsec_info:
  register: parsec

- name: Keys of the parsec-clients application, through the Direct authenticator
  edgefaas.platform.parsec_info:
    endpoint: unix:/run/parsec/parsec.sock
    app_name: edge-auth-agent
  register: agent_parsec

- name: The service can sign with its first provider
  ansible.builtin.assert:
    that: "'PsaSignHash' in parsec.providers[0].opcodes"
"""

RETURN = r"""
wire_protocol_version:
  description: The service's wire protocol version, as C(major.minor).
  returned: always
  type: str
  sample: "1.0"
providers:
  description: The service's providers in its priority order (the first is the clients' default), Core last.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Provider id (Core 0, MbedCrypto 1, Pkcs11 2, Tpm 3, TrustedService 4, CryptoAuthLib 5).
      type: int
      sample: 1
    name:
      description: This collection's name for the provider, accepted by the O(edgefaas.platform.parsec_key#module:provider) option.
      type: str
      sample: mbed-crypto
    uuid:
      description: The provider's UUID.
      type: str
      sample: 1c1139dc-ad7c-47dc-ad6b-db6fdb466552
    description:
      description: The provider's own description.
      type: str
      sample: User space software provider, based on Mbed Crypto
    vendor:
      description: The provider's vendor.
      type: str
      sample: Arm
    version:
      description: The provider's version.
      type: str
      sample: 0.1.0
    opcodes:
      description: The operations the provider supports, by name (unknown ones as hexadecimal opcodes).
      type: list
      elements: str
      sample: [PsaGenerateKey, PsaDestroyKey, PsaSignHash, PsaVerifyHash, PsaExportPublicKey]
authenticators:
  description: The authenticators the service accepts (one, in practice).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Authenticator id (Direct 1, UnixPeerCredentials 3, JwtSvid 4).
      type: int
      sample: 3
    name:
      description: Short name of the authenticator.
      type: str
      sample: unix-peer-credentials
    description:
      description: The authenticator's own description.
      type: str
      sample: Uses Unix peer credentials to authenticate the client.
    version:
      description: The authenticator's version.
      type: str
      sample: 0.1.0
client_keys:
  description:
    - The calling identity's keys in every provider.
    - Named so because C(keys) would clash with the C(keys) method of dictionaries in Jinja.
  returned: always
  type: list
  elements: dict
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
      description: The key's type, size and policy.
      type: dict
      contains:
        key_type:
          description: Parsec key type, such as C(ecc_key_pair) or C(rsa_key_pair).
          type: str
          sample: ecc_key_pair
        bits:
          description: Key size in bits.
          type: int
          sample: 256
        curve:
          description: ECC curve family, such as C(secp_r1); null for other keys.
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec import ParsecClient, ParsecError, opcode_name
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec_args import parsec_argument_spec, parsec_client


def gather(client: ParsecClient) -> dict:
    major, minor = client.ping()
    providers = []
    for provider in client.list_providers():
        opcodes = [opcode_name(opcode) for opcode in client.list_opcodes(provider.id)]
        providers.append(dict(provider.to_dict(), opcodes=opcodes))
    return {
        "wire_protocol_version": "{}.{}".format(major, minor),
        "providers": providers,
        "authenticators": [authenticator.to_dict() for authenticator in client.list_authenticators()],
        "client_keys": [key.to_dict() for key in client.list_keys()],
    }


def main():
    module = AnsibleModule(argument_spec=parsec_argument_spec(), supports_check_mode=True)
    try:
        info = gather(parsec_client(module.params))
    except (ParsecError, ValueError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
