# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the parsec role: config.toml read with a real TOML parser, values written escaped.

Upstream facts (parsec 1.4.1): src/utils/config.rs (the configuration's structure), the
DEFAULT_PROVIDER_NAME of each provider in src/providers/*/mod.rs (the name a [[provider]] without
`name` gets), the default stores of src/key_info_managers/{sqlite,on_disk}_manager/mod.rs, and
src/bin/main.rs (SIGHUP rebuilds providers, authenticator and listener, but the log settings
and allow_root are read once at start).
"""

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.edgefaas.platform.plugins.plugin_utils.program_start import program_start_failures

try:
    import tomllib
except ImportError:  # Python < 3.11 controllers: the same parser as a package
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

# [[provider]] without `name`: upstream's default name for its type.
DEFAULT_PROVIDER_NAMES = {
    "MbedCrypto": "mbed-crypto-provider",
    "Pkcs11": "pkcs11-provider",
    "Tpm": "tpm-provider",
    "TrustedService": "trusted-service-provider",
    "CryptoAuthLib": "cryptoauthlib-provider",
}
# [[key_manager]] without its path: upstream's default store for its type.
DEFAULT_KIM_PATHS = {
    "SQLite": "/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3",
    "OnDisk": "/var/lib/parsec/mappings",
}
KIM_PATH_KEYS = {"SQLite": "sqlite_db_path", "OnDisk": "store_path"}
# [core_settings] that only a start applies (main.rs: log_setup() and the allow_root check).
RESTART_ONLY_SETTINGS = ("log_level", "log_timestamp", "allow_root")
# How Parsec names a provider type in its log (parsec-interface's Display of ProviderId).
LOGGED_PROVIDER_TYPES = {
    "Mbed Crypto provider": "MbedCrypto",
    "PKCS #11 provider": "Pkcs11",
    "TPM provider": "Tpm",
    "Trusted Service provider": "TrustedService",
    "CryptoAuthentication Library provider": "CryptoAuthLib",
}
# The settings of a provider type that decide whether it can start.
PROVIDER_START_SETTINGS = {
    "Pkcs11": ("library_path", "slot_number", "serial_number", "user_pin"),
    "Tpm": ("tcti", "owner_hierarchy_auth", "skip_if_no_tpm"),
    "CryptoAuthLib": ("device_type", "iface_type", "bus", "slave_address"),
}
SECRET_SETTINGS = ("user_pin", "owner_hierarchy_auth")
BUNDLE_REMEDY = (
    "install a build for this host, with any library it needs in the bundle's lib/ (parsec_binary_src, or "
    "parsec_tarball_src/parsec_tarball_url); for L4T R32 "
    "(aarch64, glibc 2.27) the collection's contrib/parsec-bundle/build.sh builds one"
)
# Default device of the tss2 "device" TCTI when none is given.
TPM_DEFAULT_DEVICE = "/dev/tpm0"


def toml_string(value):
    """Any value -> a TOML basic string literal with its quotes (`a"b` -> `"a\\"b"`).

    JSON's string escapes are TOML's (\\" \\\\ \\n \\t \\uXXXX...), except that TOML also
    forbids a raw DEL (U+007F) in a basic string.
    """
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _parse_toml(text, path):
    if tomllib is None:
        raise AnsibleFilterError(
            "reading {} needs Python 3.11+ (tomllib) or the tomli package on the controller".format(path)
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message ends with "(at line L, column C)"
        raise AnsibleFilterError(
            "{} is not valid TOML: {}. Parsec itself cannot start with it: correct the file (or remove it to "
            "let the role write a new one) and run again.".format(path, error)
        ) from None  # the parser's message is in ours; Ansible would print it twice


def _table(data, key, path, kind=dict):
    value = data.get(key, kind())
    if not isinstance(value, kind):
        raise AnsibleFilterError(
            "{}: `{}` must be a {}".format(path, key, "table" if kind is dict else "array of tables")
        )
    return value


def _key_managers(config, path):
    managers = {}
    for manager in _table(config, "key_manager", path, list):
        manager_type = manager.get("manager_type")
        if manager_type not in KIM_PATH_KEYS:
            raise AnsibleFilterError(
                "{}: key manager {!r} has manager_type {!r}; Parsec knows SQLite and OnDisk".format(
                    path, manager.get("name"), manager_type
                )
            )
        store = manager.get(KIM_PATH_KEYS[manager_type], DEFAULT_KIM_PATHS[manager_type])
        managers[manager.get("name")] = {"name": manager.get("name"), "type": manager_type, "path": store}
    return managers


def _providers(config, managers, path):
    providers = []
    for index, provider in enumerate(_table(config, "provider", path, list), start=1):
        provider_type = provider.get("provider_type")
        if provider_type not in DEFAULT_PROVIDER_NAMES:
            raise AnsibleFilterError(
                "{}: [[provider]] number {} has provider_type {!r}; Parsec knows {}".format(
                    path, index, provider_type, ", ".join(DEFAULT_PROVIDER_NAMES)
                )
            )
        manager = managers.get(provider.get("key_info_manager"))
        if manager is None:
            raise AnsibleFilterError(
                "{}: provider {} uses key_info_manager {!r}, which no [[key_manager]] defines".format(
                    path, provider.get("name", DEFAULT_PROVIDER_NAMES[provider_type]), provider.get("key_info_manager")
                )
            )
        providers.append(
            {
                "name": provider.get("name", DEFAULT_PROVIDER_NAMES[provider_type]),
                "type": provider_type,
                "key_info_manager": manager,
            }
        )
    return providers


def parsec_config(text, path="config.toml"):
    """config.toml's text -> the settings that decide which keys clients see, and the start-only ones.

    Returns {} for an empty text (no configuration yet), else {authenticator: auth_type,
    providers: [{name, type, key_info_manager: {name, type, path}}] in priority order,
    key_managers: [the managers the providers use, each once], core: {log_level, log_timestamp,
    allow_root: value or None}}. Names and store paths left out get upstream's defaults.
    Raises AnsibleFilterError naming the file and the parser's line and column when the text is
    not TOML, or the problem when it is not a Parsec configuration.
    """
    if not str(text or "").strip():
        return {}
    config = _parse_toml(str(text), path)
    providers = _providers(config, _key_managers(config, path), path)
    used_managers = []
    for provider in providers:
        if provider["key_info_manager"] not in used_managers:
            used_managers.append(provider["key_info_manager"])
    core = _table(config, "core_settings", path)
    return {
        "authenticator": _table(config, "authenticator", path).get("auth_type"),
        "providers": providers,
        "key_managers": used_managers,
        "core": {setting: core.get(setting) for setting in RESTART_ONLY_SETTINGS},
    }


def _describe_manager(manager):
    return "{} at {}".format(manager["type"], manager["path"])


def _keep_manager(manager):
    if manager["type"] == "OnDisk":
        return "parsec_key_info_manager_type: OnDisk, parsec_key_info_manager_store_path: {}".format(manager["path"])
    return "parsec_key_info_manager_type: SQLite, parsec_key_info_manager_db: {}".format(manager["path"])


def parsec_identity_changes(current, wanted):
    """Changes from the current to the wanted configuration (both from parsec_config) that orphan keys.

    Returns [{change: what changes, keep: the role settings that keep it}]: the authenticator,
    a provider name that disappears or changes type, and the type or store of the key info
    manager a provider uses. Adding, removing (without keys) or reordering providers is not
    listed; [] when there is no current configuration.
    """
    if not current:
        return []
    changes = []
    if current.get("authenticator") != wanted.get("authenticator"):
        changes.append(
            {
                "change": "authenticator {} -> {}".format(current.get("authenticator"), wanted.get("authenticator")),
                "keep": "parsec_authenticator: {}".format(current.get("authenticator")),
            }
        )
    wanted_providers = {provider["name"]: provider for provider in wanted.get("providers", [])}
    for provider in current.get("providers", []):
        changes.extend(_provider_changes(provider, wanted_providers.get(provider["name"])))
    return changes


def _provider_changes(current, wanted):
    keep_provider = "a provider named {} of type {} in parsec_providers".format(current["name"], current["type"])
    if wanted is None:
        names = "provider {} ({}) is no longer configured".format(current["name"], current["type"])
        return [{"change": names, "keep": keep_provider}]
    if wanted["type"] != current["type"]:
        change = "provider {} type {} -> {}".format(current["name"], current["type"], wanted["type"])
        return [{"change": change, "keep": keep_provider}]
    before, after = current["key_info_manager"], wanted["key_info_manager"]
    if (before["type"], before["path"]) != (after["type"], after["path"]):
        change = "key info manager of provider {}: {} -> {}".format(
            current["name"], _describe_manager(before), _describe_manager(after)
        )
        return [{"change": change, "keep": _keep_manager(before)}]
    return []


def parsec_restart_settings(current, wanted):
    """Names of the [core_settings] that differ and that only a restart applies; [] without a current config."""
    if not current:
        return []
    before, after = current.get("core", {}), wanted.get("core", {})
    return [setting for setting in RESTART_ONLY_SETTINGS if before.get(setting) != after.get(setting)]


def _tpm_device(tcti):
    """The device a tss2 `device` TCTI opens (`device:/dev/tpmrm0`); None for other TCTIs (mssim, swtpm...)."""
    name, _colon, conf = str(tcti).partition(":")
    if name != "device":
        return None
    return conf or TPM_DEFAULT_DEVICE


def parsec_provider_host_paths(providers):
    """The host files each provider of parsec_providers needs: [{provider, setting, path, remedy}].

    A Tpm provider with a `device` TCTI needs its device (unless skip_if_no_tpm, which lets
    Parsec start without it); a Pkcs11 provider its library_path. Other TCTIs (a simulator, a
    resource manager) are reached at start and cannot be checked by a path.
    """
    paths = []
    for provider in providers or []:
        if provider.get("type") == "Tpm" and not provider.get("skip_if_no_tpm", False):
            device = _tpm_device(provider.get("tcti", "device:/dev/tpmrm0"))
            if device:
                paths.append(
                    {
                        "provider": provider["name"],
                        "setting": "tcti",
                        "path": device,
                        "remedy": "give the host a TPM (or the tcti of one), set skip_if_no_tpm: true on the "
                        "provider to let Parsec start without it, or remove the provider",
                    }
                )
        elif provider.get("type") == "Pkcs11":
            paths.append(
                {
                    "provider": provider["name"],
                    "setting": "library_path",
                    "path": provider["library_path"],
                    "remedy": "install the PKCS#11 module there or correct library_path",
                }
            )
    return paths


def _setting_text(provider, setting):
    if setting in SECRET_SETTINGS:
        return "{} (secret)".format(setting)
    return "{}={}".format(setting, provider[setting])


def parsec_start_failure(journal, providers):
    """Why Parsec did not answer, from its journal lines and parsec_providers: the settings to look at.

    Reads what systemd and the dynamic loader log when the program cannot run on the host (another
    CPU architecture, a newer glibc, a missing library), and the errors Parsec 1.4 logs when it
    cannot build its service (service_builder.rs and main.rs), naming the provider and its settings
    (secrets by name only). Returns '' when the journal shows none of them.
    """
    text = "\n".join(journal) if isinstance(journal, list) else str(journal or "")
    reasons = program_start_failures(text, "Parsec's program", BUNDLE_REMEDY)
    for logged in re.findall(r"Provider with ID (.+?) cannot be created", text):
        provider_type = LOGGED_PROVIDER_TYPES.get(logged.strip(), logged.strip())
        for provider in providers or []:
            if provider.get("type") == provider_type:
                settings = [s for s in PROVIDER_START_SETTINGS.get(provider_type, ()) if s in provider]
                reasons.append(
                    "provider {} ({}) could not start: check {}".format(
                        provider["name"],
                        provider_type,
                        ", ".join(_setting_text(provider, s) for s in settings) or "the provider's settings",
                    )
                )
    if "Failed to parse service configuration" in text:
        reasons.append("Parsec could not parse config.toml: check the values given to the role")
    if "should not be running as root" in text:
        reasons.append("Parsec refuses to run as root: check parsec_user")
    if "Key info manager builder with specified name was not found" in text:
        reasons.append("a provider names a key info manager that is not configured: check parsec_key_info_manager_name")
    return "; ".join(dict.fromkeys(reasons))


class FilterModule:
    def filters(self):
        return {
            "toml_string": toml_string,
            "parsec_config": parsec_config,
            "parsec_identity_changes": parsec_identity_changes,
            "parsec_restart_settings": parsec_restart_settings,
            "parsec_provider_host_paths": parsec_provider_host_paths,
            "parsec_start_failure": parsec_start_failure,
        }
