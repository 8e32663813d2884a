# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options: plugins/module_utils/parsec_args.py PARSEC_CONNECTION_ARGS
    DOCUMENTATION = r"""
options:
  endpoint:
    description:
      - The Parsec service's endpoint, as V(unix:/path/to/parsec.sock). Only the C(unix) scheme exists.
      - When not set, the E(PARSEC_SERVICE_ENDPOINT) environment variable of the module (see the
        C(environment) keyword), else V(unix:/run/parsec/parsec.sock).
    type: str
  timeout:
    description:
      - Seconds that each connect, send and receive step of a request may take.
      - Creating large RSA keys in software on small boards takes tens of seconds.
    type: float
    default: 60
  app_name:
    description:
      - Authenticate with Parsec's C(Direct) authenticator under this application name.
      - When not set, the module authenticates with C(UnixPeerCredentials) as the user it runs as, so
        C(become_user) chooses whose keys it sees.
      - Use it only when the service's C([authenticator]) is C(Direct).
    type: str
"""

    # Provider option: plugins/module_utils/parsec_args.py PARSEC_PROVIDER_ARGS
    PROVIDER = r"""
options:
  provider:
    description:
      - The Parsec provider that holds the key, by id (V(1)) or name (V(mbed-crypto), V(pkcs11), V(tpm),
        V(trusted-service), V(cryptoauthlib)).
      - When not set, the service's first provider (the first C([[provider]]) of its configuration).
      - The provider must be configured in the service.
    type: str
"""
