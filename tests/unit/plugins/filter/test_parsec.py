"""The parsec role's filters: config.toml read with tomllib, values escaped, start failures named."""

from pathlib import Path

import jinja2
import pytest
import tomllib
from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import FilterModule as CoreFilters

from ansible_collections.edgefaas.platform.plugins.filter import parsec

TEMPLATE = Path(__file__).resolve().parents[4] / "roles/parsec/templates/config.toml.j2"
DB = "/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3"

# Upstream's older style: a provider without `name`, an OnDisk key manager (the lab's tests use it too).
OLD_STYLE = (Path(__file__).resolve().parents[3] / "fixtures/parsec-config-old-style.toml").read_text()

ROLE_DEFAULTS = {
    "ansible_managed": "Ansible managed",
    "parsec_log_level": "info",
    "parsec_thread_pool_size": 8,
    "parsec_idle_listener_sleep_duration": 10,
    "parsec_listener_timeout": 200,
    "parsec_socket_path": "/run/parsec/parsec.sock",
    "parsec_authenticator": "UnixPeerCredentials",
    "parsec_admins": [],
    "parsec_key_info_manager_name": "sqlite-manager",
    "parsec_key_info_manager_type": "SQLite",
    "parsec_key_info_manager_db": DB,
    "parsec_key_info_manager_store_path": "/var/lib/parsec/mappings",
    "parsec_providers": [{"name": "mbed-crypto-provider", "type": "MbedCrypto"}],
}


def render(**overrides):
    """config.toml.j2 rendered with the role's defaults and the filters it uses."""
    environment = jinja2.Environment(trim_blocks=True)
    environment.filters.update(CoreFilters().filters())
    environment.filters["edgefaas.platform.toml_string"] = parsec.toml_string
    return environment.from_string(TEMPLATE.read_text()).render(dict(ROLE_DEFAULTS, **overrides))


@pytest.mark.parametrize(
    "value",
    ['pin"with"quotes', "back\\slash\\", 'C:\\"\\n', "new\nline\ttab", "ünïcødé ✓", "del\x7fchar", "bell\x07", ""],
)
def test_toml_string_round_trips_through_tomllib(value):
    assert tomllib.loads("v = " + parsec.toml_string(value))["v"] == value


def test_rendered_config_with_quotes_and_backslashes_is_valid_toml():
    pin = 'se"cr\\et\n'
    library = '/opt/hsm "vendor"/lib\\pkcs11.so'
    text = render(
        parsec_providers=[
            {"name": "hsm", "type": "Pkcs11", "library_path": library, "user_pin": pin, "slot_number": 3},
            {"name": 'tpm"1', "type": "Tpm", "owner_hierarchy_auth": "a\\b", "skip_if_no_tpm": True},
        ],
        parsec_admins=['ad"min'],
    )
    config = tomllib.loads(text)
    assert config["provider"][0]["user_pin"] == pin
    assert config["provider"][0]["library_path"] == library
    assert config["provider"][0]["slot_number"] == 3
    assert config["provider"][1]["name"] == 'tpm"1' and config["provider"][1]["skip_if_no_tpm"] is True
    assert config["authenticator"]["admins"] == [{"name": 'ad"min'}]


def test_rendered_on_disk_manager_uses_store_path():
    config = parsec.parsec_config(render(parsec_key_info_manager_type="OnDisk"))
    assert config["key_managers"] == [{"name": "sqlite-manager", "type": "OnDisk", "path": "/var/lib/parsec/mappings"}]


def test_old_style_config_gets_upstreams_defaults():
    config = parsec.parsec_config(OLD_STYLE)
    assert config["authenticator"] == "UnixPeerCredentials"
    manager = {"name": "on-disk-manager", "type": "OnDisk", "path": "/var/lib/parsec/mappings"}
    assert config["providers"] == [{"name": "mbed-crypto-provider", "type": "MbedCrypto", "key_info_manager": manager}]
    assert config["key_managers"] == [manager]
    assert config["core"] == {"log_level": "info", "log_timestamp": None, "allow_root": None}


def test_empty_config_is_no_config():
    assert parsec.parsec_config("") == {}
    assert parsec.parsec_identity_changes({}, parsec.parsec_config(render())) == []
    assert parsec.parsec_restart_settings({}, parsec.parsec_config(render())) == []


def test_malformed_config_names_file_and_line():
    with pytest.raises(AnsibleFilterError, match=r"/etc/parsec/config.toml is not valid TOML: .*line 3"):
        parsec.parsec_config('[core_settings]\nlog_level = "info"\nthread_pool_size = = 4\n', "/etc/parsec/config.toml")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[provider]]\nprovider_type = "Hsm"\nkey_info_manager = "m"\n', "provider_type 'Hsm'"),
        ('[[provider]]\nprovider_type = "MbedCrypto"\nkey_info_manager = "nope"\n', "key_info_manager 'nope'"),
        ('[[key_manager]]\nname = "m"\nmanager_type = "Redis"\n', "manager_type 'Redis'"),
        ('provider = "MbedCrypto"\n', "`provider` must be a array of tables"),
    ],
)
def test_config_that_is_not_parsecs_is_named(text, problem):
    with pytest.raises(AnsibleFilterError, match=problem):
        parsec.parsec_config(text, "config.toml")


def test_old_style_on_disk_to_role_default_sqlite_is_an_identity_change():
    changes = parsec.parsec_identity_changes(parsec.parsec_config(OLD_STYLE), parsec.parsec_config(render()))
    assert changes == [
        {
            "change": "key info manager of provider mbed-crypto-provider: OnDisk at /var/lib/parsec/mappings -> "
            "SQLite at " + DB,
            "keep": "parsec_key_info_manager_type: OnDisk, parsec_key_info_manager_store_path: /var/lib/parsec/mappings",
        }
    ]


def test_same_settings_in_other_words_are_no_change():
    """The old-style file, kept by the role's OnDisk settings: default names and paths match."""
    wanted = parsec.parsec_config(render(parsec_key_info_manager_type="OnDisk"))
    assert parsec.parsec_identity_changes(parsec.parsec_config(OLD_STYLE), wanted) == []


def test_every_key_identity_change_is_listed():
    current = parsec.parsec_config(
        render(
            parsec_providers=[
                {"name": "mbed-crypto-provider", "type": "MbedCrypto"},
                {"name": "tpm", "type": "Tpm", "skip_if_no_tpm": True},
                {"name": "hsm", "type": "Pkcs11", "library_path": "/usr/lib/softhsm/libsofthsm2.so"},
            ]
        )
    )
    wanted = parsec.parsec_config(
        render(
            parsec_authenticator="Direct",
            parsec_key_info_manager_db="/srv/parsec.sqlite3",
            parsec_providers=[
                {"name": "mbed", "type": "MbedCrypto"},
                {"name": "tpm", "type": "Pkcs11", "library_path": "/x.so"},
                {"name": "hsm", "type": "Pkcs11", "library_path": "/usr/lib/softhsm/libsofthsm2.so"},
            ],
        )
    )
    changes = [change["change"] for change in parsec.parsec_identity_changes(current, wanted)]
    assert changes == [
        "authenticator UnixPeerCredentials -> Direct",
        "provider mbed-crypto-provider (MbedCrypto) is no longer configured",
        "provider tpm type Tpm -> Pkcs11",
        "key info manager of provider hsm: SQLite at {} -> SQLite at /srv/parsec.sqlite3".format(DB),
    ]


def test_adding_and_reordering_providers_orphans_nothing():
    mbed = {"name": "mbed-crypto-provider", "type": "MbedCrypto"}
    tpm = {"name": "tpm", "type": "Tpm", "skip_if_no_tpm": True}
    current = parsec.parsec_config(render(parsec_providers=[mbed]))
    wanted = parsec.parsec_config(render(parsec_providers=[tpm, mbed]))
    assert parsec.parsec_identity_changes(current, wanted) == []


def test_log_level_needs_a_restart_other_settings_a_reload():
    current = parsec.parsec_config(render())
    assert parsec.parsec_restart_settings(current, parsec.parsec_config(render(parsec_log_level="debug"))) == [
        "log_level"
    ]
    reloadable = render(parsec_thread_pool_size=2, parsec_idle_listener_sleep_duration=1)
    assert parsec.parsec_restart_settings(current, parsec.parsec_config(reloadable)) == []


def test_host_paths_of_tpm_and_pkcs11_providers():
    paths = parsec.parsec_provider_host_paths(
        [
            {"name": "mbed", "type": "MbedCrypto"},
            {"name": "tpm", "type": "Tpm"},
            {"name": "tpm0", "type": "Tpm", "tcti": "device"},
            {"name": "skipped", "type": "Tpm", "skip_if_no_tpm": True},
            {"name": "sim", "type": "Tpm", "tcti": "mssim:host=127.0.0.1,port=2321"},
            {"name": "hsm", "type": "Pkcs11", "library_path": "/usr/lib/softhsm/libsofthsm2.so"},
        ]
    )
    assert [(p["provider"], p["setting"], p["path"]) for p in paths] == [
        ("tpm", "tcti", "/dev/tpmrm0"),
        ("tpm0", "tcti", "/dev/tpm0"),
        ("hsm", "library_path", "/usr/lib/softhsm/libsofthsm2.so"),
    ]
    assert "skip_if_no_tpm" in paths[0]["remedy"] and "library_path" in paths[2]["remedy"]


def test_start_failure_names_the_provider_and_its_settings_not_secrets():
    journal = [
        "2026-11-30T21:00:00+0000 nano-2 parsec[81]: [INFO  parsec] Creating a TPM Provider.",
        "2026-11-30T21:00:00+0000 nano-2 parsec[81]: [ERROR parsec::utils::service_builder] "
        "Provider with ID TPM provider cannot be created;",
        "2026-11-30T21:00:00+0000 nano-2 parsec[81]: Error: failed to create provider",
    ]
    providers = [
        {"name": "mbed", "type": "MbedCrypto"},
        {"name": "tpm", "type": "Tpm", "tcti": "mssim:host=127.0.0.1", "owner_hierarchy_auth": "hunter2"},
    ]
    cause = parsec.parsec_start_failure(journal, providers)
    assert cause == "provider tpm (Tpm) could not start: check tcti=mssim:host=127.0.0.1, owner_hierarchy_auth (secret)"
    assert "hunter2" not in cause


def test_start_failure_of_pkcs11_and_unknown_causes():
    pkcs11 = [{"name": "hsm", "type": "Pkcs11", "library_path": "/usr/lib/x.so", "user_pin": "1234"}]
    journal = "parsec: Provider with ID PKCS #11 provider cannot be created; Error: ..."
    assert parsec.parsec_start_failure(journal, pkcs11) == (
        "provider hsm (Pkcs11) could not start: check library_path=/usr/lib/x.so, user_pin (secret)"
    )
    assert parsec.parsec_start_failure(["parsec: something else"], pkcs11) == ""
    assert "parse config.toml" in parsec.parsec_start_failure("Failed to parse service configuration (x)", [])


# Journal lines as `journalctl --unit parsec --output short-iso` showed them on a Debian 12 lab host
# (systemd 252, glibc 2.36) for a program that cannot run there.
WRONG_ARCHITECTURE = [
    "2026-12-01T02:54:33+0000 nano-2 systemd[1]: parsec.service: Main process exited, code=exited, status=203/EXEC",
    "2026-12-01T02:54:34+0000 nano-2 (parsec)[71]: parsec.service: Failed to execute /opt/parsec/current/bin/parsec: "
    "Exec format error",
    "2026-12-01T02:54:34+0000 nano-2 (parsec)[71]: parsec.service: Failed at step EXEC spawning "
    "/opt/parsec/current/bin/parsec: Exec format error",
    "2026-12-01T02:54:34+0000 nano-2 systemd[1]: parsec.service: Start request repeated too quickly.",
]
GLIBC_TOO_OLD = (
    "2026-12-01T02:54:53+0000 nano-2 parsec[110]: /opt/parsec/current/bin/parsec: /lib/x86_64-linux-gnu/libc.so.6: "
    "version `GLIBC_2.38' not found (required by /opt/parsec/current/bin/parsec)"
)
LIBRARY_MISSING = (
    "2026-12-01T02:54:33+0000 nano-2 parsec[67]: /opt/parsec/current/bin/parsec: error while loading shared "
    "libraries: libtss2-esys.so.0: cannot open shared object file: No such file or directory"
)


def test_start_failure_names_a_binary_built_for_another_architecture():
    cause = parsec.parsec_start_failure(WRONG_ARCHITECTURE, [{"name": "mbed", "type": "MbedCrypto"}])
    assert "/opt/parsec/current/bin/parsec is built for another CPU architecture" in cause
    assert "Exec format error" in cause and "parsec_binary_src" in cause and "contrib/parsec-bundle" in cause


def test_start_failure_names_exec_failure_when_systemd_logged_only_the_status():
    # systemd does not log the exec error of every attempt: the 30 lines may hold only the status.
    cause = parsec.parsec_start_failure(WRONG_ARCHITECTURE[:1], [])
    assert "could not execute Parsec's program (status 203/EXEC" in cause
    assert "another CPU architecture" in cause and "parsec_binary_src" in cause


def test_start_failure_names_the_glibc_versions_a_binary_needs():
    cause = parsec.parsec_start_failure([GLIBC_TOO_OLD, GLIBC_TOO_OLD.replace("2.38", "2.34")], [])
    assert cause.startswith(
        "/opt/parsec/current/bin/parsec needs GLIBC_2.34, GLIBC_2.38, newer than this host's C library"
    )
    assert "contrib/parsec-bundle" in cause


def test_start_failure_names_a_missing_shared_library():
    cause = parsec.parsec_start_failure(LIBRARY_MISSING, [])
    assert cause.startswith("/opt/parsec/current/bin/parsec needs libtss2-esys.so.0, which this host lacks")
    assert "lib/" in cause
