"""parsec_key_mappings: counts, missing stores, unreadable stores."""

import sqlite3

from ansible_collections.edgefaas.platform.plugins.modules import parsec_key_mappings


def test_counts_keys_of_a_sqlite_store(run_module, tmp_path):
    db = tmp_path / "kim.sqlite3"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE key_mapping (application_name TEXT, key_name TEXT, provider_name TEXT)")
    connection.executemany("INSERT INTO key_mapping VALUES (?, ?, ?)", [("0", "a", "mbed"), ("0", "b", "mbed")])
    connection.commit()
    connection.close()
    result = run_module(parsec_key_mappings, {"manager_type": "SQLite", "path": str(db)}, check_mode=True)
    assert result == dict(result, changed=False, failed=False, count=2, providers={"mbed": 2}, exists=True)


def test_missing_store_holds_no_key(run_module, tmp_path):
    result = run_module(parsec_key_mappings, {"manager_type": "OnDisk", "path": str(tmp_path / "mappings")})
    assert (result["count"], result["providers"], result["exists"]) == (0, {}, False)


def test_unreadable_store_fails_with_the_remedy(run_module, tmp_path):
    junk = tmp_path / "kim.sqlite3"
    junk.write_bytes(b"junk" * 1000)
    result = run_module(parsec_key_mappings, {"manager_type": "SQLite", "path": str(junk)})
    assert result["failed"]
    assert "is not a readable SQLite" in result["msg"] and "config.toml" in result["msg"]
