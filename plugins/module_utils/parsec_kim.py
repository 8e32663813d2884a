# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read-only access to the stores of Parsec's key info managers (KIM): how many keys they map.

A KIM maps (authenticator, application, provider, key name) to the provider's key id. When the
service is pointed at another KIM, or at another store of the same type, the keys of the old one
are orphaned: the providers still hold the key material but no client can name it any more.

Store layouts (parsec 1.4.1, src/key_info_managers/):
- SQLite (sqlite_manager/mod.rs): table ``key_mapping`` with one row per key, columns
  ``authenticator_id``, ``application_name``, ``key_name``, ``provider_uuid``, ``provider_name``...
  Default path ``/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3``.
- OnDisk (on_disk_manager/mod.rs): one file per key at
  ``<store_path>/<base64url application>/<provider id>/<base64url key name>``; the service's own
  keys are files directly under ``<store_path>/parsec/``. Default store ``/var/lib/parsec/mappings``.

Standard library only, Python 3.8+ (runs on the managed host).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Dict

# Provider ids of the wire protocol (module_utils.parsec.ProviderId), as OnDisk names its folders.
PROVIDER_TYPES = {1: "MbedCrypto", 2: "Pkcs11", 3: "Tpm", 4: "TrustedService", 5: "CryptoAuthLib"}


class KimReadError(Exception):
    """The store exists but cannot be read as the key info manager it is said to be."""


def sqlite_key_counts(db_path: str) -> Dict[str, int]:
    """{provider name: number of keys} of a SQLite KIM database; {} when the file does not exist.

    Opened read-only (the running service keeps it open). A database without the key_mapping
    table holds no key yet. Raises KimReadError when the file is not a readable SQLite database.
    """
    if not os.path.exists(db_path):
        return {}
    try:
        connection = sqlite3.connect("file:{}?mode=ro".format(db_path), uri=True)
        try:
            tables = connection.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='key_mapping'")
            if tables.fetchone() is None:
                return {}
            rows = connection.execute("SELECT provider_name, count(*) FROM key_mapping GROUP BY provider_name")
            return {str(provider): int(count) for provider, count in rows.fetchall()}
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise KimReadError(
            "{} is not a readable SQLite key info manager database: {}".format(db_path, error)
        ) from error


def on_disk_key_counts(store_path: str) -> Dict[str, int]:
    """{provider type: number of keys} of an OnDisk KIM store; {} when the folder does not exist.

    Counts the client keys (files two folders below the store); the service's internal keys are
    files directly under parsec/ and are not counted. Folders that are not provider ids count
    under their own name.
    """
    if not os.path.isdir(store_path):
        return {}
    counts = {}  # type: Dict[str, int]
    try:
        for application in _subdirs(store_path):
            for provider in _subdirs(os.path.join(store_path, application)):
                folder = os.path.join(store_path, application, provider)
                keys = [name for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name))]
                if keys:
                    name = PROVIDER_TYPES.get(int(provider), provider) if provider.isdigit() else provider
                    counts[name] = counts.get(name, 0) + len(keys)
    except OSError as error:
        raise KimReadError("cannot read the OnDisk key info manager store {}: {}".format(store_path, error)) from error
    return counts


def _subdirs(path: str):
    return sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))


def key_counts(manager_type: str, path: str) -> Dict[str, int]:
    """Keys per provider in the store of a KIM of type SQLite (path: database) or OnDisk (path: folder)."""
    if manager_type == "SQLite":
        return sqlite_key_counts(path)
    if manager_type == "OnDisk":
        return on_disk_key_counts(path)
    raise ValueError("unknown key info manager type {!r}: SQLite or OnDisk".format(manager_type))
