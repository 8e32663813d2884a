"""A Parsec client for a pod: pings the node's service, keeps a signing key and signs every minute.

Runs as the pod's UID, which is its identity with the UnixPeerCredentials authenticator. Uses the
collection's wire client (the package plugins/module_utils/parsec/, mounted beside this file).
"""

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import parsec  # the mounted copy of plugins/module_utils/parsec/

KEY = "pod-signing-key"
KEY_ATTRIBUTES = parsec.KeyAttributes("ecc_key_pair", 256, "secp_r1", parsec.SIGN_USAGE, parsec.ecdsa())


def main():
    client = parsec.ParsecClient()
    print("Parsec wire protocol %d.%d" % client.ping(), flush=True)
    if KEY not in [key.name for key in client.list_keys()]:
        client.generate_key(KEY, KEY_ATTRIBUTES)
    while True:
        digest = hashlib.sha256(os.environ.get("POD_NAME", "pod").encode()).digest()
        signature = client.sign_hash(KEY, parsec.ecdsa(), digest)
        print("signed as uid %d: %s" % (os.geteuid(), signature.hex()[:32]), flush=True)
        time.sleep(60)


if __name__ == "__main__":
    main()
