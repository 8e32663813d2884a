# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""EdgeFaaS node services, installed from one wheel into a virtual environment on each node.

Modules and what they need (see services/README.md):
parsec (the collection's Parsec wire client, plugins/module_utils/parsec, packaged at build time):
standard library, Python >= 3.8; x509 (site CA, CSRs, node certificates): asn1crypto and
cryptography, the ``server`` extra, on the switch and the controller.
Nothing is imported here, so that the auth agent loads only what it uses.
"""
