"""Key counts of Parsec key info manager stores, laid out as parsec 1.4.1 writes them."""

import base64
import sqlite3

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils import parsec_kim

# sqlite_manager/mod.rs of parsec 1.4.1
SCHEMA = """
CREATE TABLE kim_metadata (id TEXT NOT NULL, int_value INTEGER NOT NULL, PRIMARY KEY (id));
CREATE TABLE key_mapping (
    authenticator_id INTEGER NOT NULL, application_name TEXT NOT NULL, key_name TEXT NOT NULL,
    provider_uuid TEXT NOT NULL, provider_name TEXT NOT NULL, key_id BLOB NOT NULL,
    key_id_version INTEGER NOT NULL, key_attributes BLOB NOT NULL, key_attributes_version INTEGER NOT NULL,
    PRIMARY KEY (authenticator_id, application_name, key_name)
);
"""


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


def sqlite_store(path, rows):
    connection = sqlite3.connect(path)
    connection.executescript(SCHEMA)
    connection.executemany(
        "INSERT INTO key_mapping VALUES (3, ?, ?, 'uuid', ?, x'01', 1, x'02', 1)",
        rows,
    )
    connection.commit()
    connection.close()


def test_sqlite_counts_keys_per_provider_name(tmp_path):
    db = tmp_path / "kim.sqlite3"
    sqlite_store(db, [("0", "a", "mbed-crypto-provider"), ("1000", "a", "mbed-crypto-provider"), ("0", "b", "tpm")])
    assert parsec_kim.key_counts("SQLite", str(db)) == {"mbed-crypto-provider": 2, "tpm": 1}


def test_sqlite_without_file_or_table_holds_no_key(tmp_path):
    assert parsec_kim.key_counts("SQLite", str(tmp_path / "missing.sqlite3")) == {}
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    assert parsec_kim.key_counts("SQLite", str(empty)) == {}


def test_sqlite_that_is_not_a_database_is_an_error(tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(parsec_kim.KimReadError, match=r"junk\.sqlite3 is not a readable SQLite"):
        parsec_kim.key_counts("SQLite", str(junk))


def test_on_disk_counts_client_keys_not_internal_ones(tmp_path):
    store = tmp_path / "mappings"
    for app, provider, key in [("0", "1", "k1"), ("0", "1", "k2"), ("1000", "3", "k1")]:
        folder = store / b64(app) / provider
        folder.mkdir(parents=True, exist_ok=True)
        (folder / b64(key)).write_bytes(b"\x00")
    (store / "parsec").mkdir()
    (store / "parsec" / b64("tpm:internal")).write_bytes(b"\x00")  # the service's own key
    (store / b64("2000") / "1").mkdir(parents=True)  # an application without keys left
    assert parsec_kim.key_counts("OnDisk", str(store)) == {"MbedCrypto": 2, "Tpm": 1}


def test_on_disk_without_store_holds_no_key(tmp_path):
    assert parsec_kim.key_counts("OnDisk", str(tmp_path / "none")) == {}


def test_unknown_manager_type_is_refused():
    with pytest.raises(ValueError, match="unknown key info manager type 'Redis'"):
        parsec_kim.key_counts("Redis", "/x")
