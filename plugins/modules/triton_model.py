#!/usr/bin/python
# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

DOCUMENTATION = r"""
---
module: triton_model
short_description: Load or unload a model through Triton Inference Server's repository API
version_added: 0.1.0
description:
  - Makes a model of a Triton Inference Server's model repository loaded (all its versions chosen
    by the version policy READY) or unloaded, through the HTTP/REST model repository extension
    (C(POST /v2/repository/index), C(.../models/<name>/load), C(.../models/<name>/unload)).
  - Decides from observed state, not from what a play happened to change. A model is loaded (or
    loaded again) when Triton's repository index shows no READY version, when the READY versions
    differ from O(versions), when the configuration Triton serves disagrees with O(config), or, with
    O(model_dir), when the files in the model's directory are not the ones Triton last loaded.
    Otherwise it is left alone; so is an unloaded model when O(state=unloaded).
  - Triton tells neither which files it loaded nor when (C(GET /v2/models/<name>/config) echoes
    the parsed configuration with defaults filled in, and nothing about the model files). So with
    O(model_dir) the module keeps its own record in O(record), a digest of the model directory
    (every path, a file's content, a link's target), written only after Triton answered the load and
    the model is READY with the wanted versions, and compared with the directory on each run. Files
    copied by a run that stopped before loading, a version directory removed, or a
    C(config.pbtxt) edited by hand, all differ from the record, and the next run loads the model.
    Without a record (first run, or a record removed) the model is loaded once and recorded;
    Triton does not reload files that did not change since it loaded them.
  - Knows Triton's answers. Loading a model that is not in the repository fails with the names of
    the models that are there (Triton itself only answers HTTP 500 "failed to poll from model
    repository"). A model that Triton leaves UNAVAILABLE fails with Triton's reason while the
    server keeps serving the other models. Unloading a model that is absent or already unloaded
    changes nothing (Triton answers 200 anyway).
  - Talks HTTP with the Python standard library only, not through C(tritonclient). C(tritonclient)
    needs Python 3.9 or later and brings numpy, neither of which a Jetson's distribution Python
    has, while the repository API is a handful of JSON calls; one code path behaves the same on
    every node and is the one the tests exercise.
  - Triton must run with C(--model-control-mode explicit); in its other modes it refuses loads and
    unloads, and the module reports Triton's answer.
options:
  name:
    description:
      - Name of the model, that is its directory in Triton's model repository.
    type: str
    required: true
  state:
    description:
      - V(loaded) makes the model READY, loading it when it is not READY, when the READY versions
        differ from O(versions), when its loaded configuration differs from O(config), when the
        files in O(model_dir) differ from those recorded in O(record) at the last load, or when
        O(reload=true).
      - V(unloaded) unloads the model when any of its versions is READY or loading, and waits
        until Triton has finished unloading it.
    type: str
    choices: [loaded, unloaded]
    default: loaded
  config:
    description:
      - Model configuration to load the model with instead of its C(config.pbtxt), in the JSON form
        that C(GET /v2/models/<name>/config) answers; sent as the C(config) parameter of the load
        request. Triton replaces the whole configuration with it, so give a complete one.
      - The model is loaded again when a value given here differs from the loaded configuration.
        Values that are not given are not compared, because Triton fills in defaults.
      - Triton keeps an override across later load requests while the model's files are unchanged,
        so leaving O(config) out afterwards does not bring C(config.pbtxt) back; unload the model
        and load it again for that.
      - Only with O(state=loaded).
    type: dict
  versions:
    description:
      - Versions that must be READY, for example V(["1"]) or V(["1", "2"]) (the numeric version
        directories chosen by the model's version policy). The model is loaded again when the
        READY versions differ, and the module fails when they still differ afterwards.
      - By default any READY version satisfies O(state=loaded).
      - Only with O(state=loaded).
    type: list
    elements: str
  model_dir:
    description:
      - The model's directory in Triton's model repository, on the host the module runs on (the
        node). Its digest is compared with O(record) to tell whether Triton serves the files that
        are there now. Leave it out when the module runs away from the node (delegated, with O(url)
        set to the node); then only the index, O(versions) and O(config) are compared, and
        O(reload) is the way to pick up changed files.
      - Only with O(state=loaded), and together with O(record).
    type: path
  record:
    description:
      - JSON file on the same host recording what was loaded (the model's name, the digest of
        O(model_dir), the READY versions and O(config)), written after a successful load only.
        Its directory is created (mode 0755) when missing; keep it outside the model repository,
        since Triton lists every directory there as a model.
      - Only with O(state=loaded), and together with O(model_dir).
    type: path
  reload:
    description:
      - Send a load request even when the model is READY and matches; set it when the files were
        just changed. With O(model_dir) the module sees files that differ from the record by itself;
        O(reload) still matters for a change back to the recorded files while Triton serves others
        (a hand edit it loaded at a restart), and without O(model_dir) (a module delegated away from
        the node) for every change. In check mode it reports the load that such a change would
        cause. Always reports a change.
      - Triton reloads a READY model only when its files changed since the last load (it compares
        their modification times), and keeps serving the loaded versions while it loads the new
        ones; with unchanged files the request changes nothing.
      - Only with O(state=loaded).
    type: bool
    default: false
  url:
    description:
      - Triton's HTTP endpoint as C(host:port), without a scheme (as C(tritonclient) takes it).
    type: str
    default: localhost:8000
  timeout:
    description:
      - Seconds to wait for each HTTP answer, and for Triton to finish a load or an unload.
    type: float
    default: 120
  use_ssl:
    description:
      - Talk HTTPS, for a Triton behind a TLS-terminating proxy.
    type: bool
    default: false
  validate_certs:
    description:
      - Verify the server's certificate and host name when O(use_ssl=true).
    type: bool
    default: true
  ca_path:
    description:
      - CA certificate file (PEM) to verify the server with when O(use_ssl=true), instead of the
        system's trust store.
    type: path
attributes:
  check_mode:
    description: Reads the index and the configuration only; reports whether a load or an unload would happen.
    support: full
  diff_mode:
    description: Shows state, READY versions and the compared part of the configuration before and after.
    support: full
notes:
  - Run it where Triton's HTTP port is reachable; on a node with the default O(url), or delegated
    elsewhere with O(url) set to the node's address.
  - The record describes the files, not the server process. When Triton restarts it loads its start
    list from the repository as it is then, so after a restart that followed a stopped run the
    module sends one load that Triton finds nothing to do for, and records the files.
  - Triton does not tell where its model repository is, so the "not found" error names the
    server and the models that its repository holds. It is raised in check mode too, since the
    model can only be loaded once its files are in the repository.
seealso:
  - name: Triton model repository extension
    description: The HTTP API this module uses.
    link: https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_model_repository.md
author:
  - EdgeFaaS platform developers (@edgefaas)
"""

EXAMPLES = r"""
- name: Load the digits model on the node's Triton
  edgefaas.platform.triton_model:
    name: digits
    versions: ["1"]

- name: Load it, and again whenever its files differ from those Triton last loaded
  edgefaas.platform.triton_model:
    name: digits
    versions: ["1"]
    model_dir: /var/lib/tritonserver/models/digits
    record: /var/lib/tritonserver/edgefaas-loaded/digits.json

- name: From the controller, load it again after its files changed
  edgefaas.platform.triton_model:
    name: digits
    reload: true
    url: nano-1.lab:8000
  delegate_to: localhost
  when: digits_files.changed

- name: Load with a configuration override (a smaller batch)
  edgefaas.platform.triton_model:
    name: digits
    config:
      backend: python
      max_batch_size: 8
      input:
        - {name: IMAGE, data_type: TYPE_FP32, dims: [8, 8]}
      output:
        - {name: PROBABILITIES, data_type: TYPE_FP32, dims: [10]}
        - {name: LABEL, data_type: TYPE_INT32, dims: [1]}

- name: Unload a model from a Triton reached over the network
  edgefaas.platform.triton_model:
    name: digits
    state: unloaded
    url: nano-1.lab:8000
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: Name of the model.
  returned: always
  type: str
  sample: digits
state:
  description:
    - The model's state after the run, as Triton's index says it; V(READY) when any version is
      READY, V(UNAVAILABLE) when none is (unloaded, never loaded, or failed), in check mode the
      state found.
  returned: always
  type: str
  sample: READY
versions:
  description: The model's READY versions after the run (the versions found, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["1"]
reason:
  description: Triton's reason why versions are not READY, for example V(unloaded) or a configuration error; empty when READY.
  returned: always
  type: str
  sample: "Invalid argument: unable to find backend library for backend 'onnx'"
load_reasons:
  description: Why the model was (or in check mode would be) loaded; empty when nothing was sent.
  returned: with O(state=loaded)
  type: list
  elements: str
  sample: ["the files in /var/lib/tritonserver/models/digits differ from those loaded last"]
digest:
  description: sha256 of O(model_dir) as it is now (recorded after a successful load).
  returned: when O(model_dir) is given
  type: str
  sample: 4f1c0b0e5d4a6b8a3c2e1f0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgefaas.platform.plugins.module_utils.triton import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    TritonClient,
    TritonError,
    config_matches,
    config_projection,
    model_digest,
    model_state,
    ready_versions,
    sorted_versions,
    unavailable_reason,
)

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["loaded", "unloaded"], "default": "loaded"},
    "config": {"type": "dict"},
    "versions": {"type": "list", "elements": "str"},
    "model_dir": {"type": "path"},
    "record": {"type": "path"},
    "reload": {"type": "bool", "default": False},
    "url": {"type": "str", "default": DEFAULT_URL},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
    "use_ssl": {"type": "bool", "default": False},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
}
LOADED_ONLY_OPTIONS = ("config", "versions", "model_dir", "record", "reload")


class ModelFailure(Exception):
    """A model that did not reach the requested state; carries Triton's index entries for the result."""

    def __init__(self, message, entries):
        super().__init__(message)
        self.entries = entries


def summary(name, entries):
    return {
        "name": name,
        "state": model_state(entries),
        "versions": ready_versions(entries),
        "reason": unavailable_reason(entries),
    }


def argument_errors(params):
    if params["state"] == "unloaded":
        given = [option for option in LOADED_ONLY_OPTIONS if params[option] not in (None, False)]
        if given:
            return f"{', '.join(given)} only apply to state=loaded"
    if params["timeout"] <= 0:
        return f"timeout must be a positive number of seconds, given {params['timeout']}"
    return None


def not_found_message(client, name):
    names = sorted({entry.get("name") for entry in client.repository_index()})
    held = ", ".join(names) if names else "no models"
    return (
        f"model '{name}' not found in the model repository of the Triton server at {client.base_url} "
        f"(it holds: {held}); put {name}/config.pbtxt and a numeric version directory there first"
    )


def load_reasons(params, entries, loaded_config, digest, record):
    """Why the model must be loaded, from what Triton and the node show now; [] when it serves as wanted."""
    reasons = []
    if params["reload"]:
        reasons.append("reload requested")
    if model_state(entries) != "READY":
        reasons.append(f"not READY ({unavailable_reason(entries) or model_state(entries)})")
        return reasons
    if params["versions"] is not None and sorted_versions(params["versions"]) != ready_versions(entries):
        reasons.append(f"versions {ready_versions(entries)} READY, {sorted_versions(params['versions'])} wanted")
    if params["config"] is not None and not config_matches(params["config"], loaded_config):
        reasons.append("the configuration Triton serves differs from config")
    if digest is not None and record.get("digest") != digest:
        reasons.append(
            f"the files in {params['model_dir']} differ from those loaded last"
            if record
            else f"no record of the files loaded from {params['model_dir']} ({params['record']})"
        )
    return reasons


def load_diff(params, entries, loaded_config, digest, record):
    before = {"state": model_state(entries), "versions": ready_versions(entries)}
    after = {"state": "READY", "versions": params["versions"] or ready_versions(entries)}
    if params["config"] is not None:
        before["config"] = config_projection(loaded_config, params["config"])
        after["config"] = params["config"]
    if digest is not None:
        before["files_digest"] = record.get("digest")
        after["files_digest"] = digest
    return {"before": before, "after": after}


def read_record(path):
    """The record of the last successful load ({} when there is none or it cannot be read as one)."""
    try:
        with open(path, encoding="utf-8") as stream:
            record = json.load(stream)
    except (OSError, ValueError):
        return {}  # missing or unreadable: the model is loaded and the record rewritten
    return record if isinstance(record, dict) else {}


def write_record(module, path, record):
    """Atomically, so that a run stopped while writing leaves the old record (and a reload next time)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=2, sort_keys=True)
        stream.write("\n")
    module.atomic_move(temporary, path)


def model_dir_digest(params):
    """The digest of model_dir, or None when the module runs without one; a bad directory is a clear error."""
    if params["model_dir"] is None:
        return None
    try:
        return model_digest(params["model_dir"])
    except OSError as error:
        raise ModelFailure(
            f"cannot read the model directory {params['model_dir']} of model '{params['name']}': {error}; "
            "model_dir is the model's directory in the repository on the host the module runs on",
            [],
        ) from error


def load_failure(client, name, error):
    """A refused load, with what Triton's index says about the model afterwards."""
    entries = client.settled_entries(name)
    message = f"model '{name}' failed to load: {str(error).rstrip(';')}"
    if model_state(entries) == "READY":
        message += f"; Triton keeps serving the versions loaded before ({', '.join(ready_versions(entries))})"
    elif error.status == 500:
        message += (
            " (Triton answers so when the model directory has no usable config.pbtxt or a config override"
            " cannot be parsed; its log names the cause)"
        )
    return ModelFailure(message, entries)


def verify_loaded(name, entries, wanted_versions):
    ready = ready_versions(entries)
    if not ready:
        raise ModelFailure(f"model '{name}' is not READY after loading: {unavailable_reason(entries)}", entries)
    if wanted_versions is not None and sorted_versions(wanted_versions) != ready:
        raise ModelFailure(
            f"model '{name}' has versions {ready} READY, not the requested {sorted_versions(wanted_versions)}: "
            "check the version directories and the version_policy of its configuration",
            entries,
        )


def ensure_loaded(module, client):
    params, name = module.params, module.params["name"]
    entries = client.settled_entries(name)
    if not entries:
        raise ModelFailure(not_found_message(client, name), entries)
    loaded_config = None
    if params["config"] is not None and model_state(entries) == "READY":
        loaded_config = client.model_config(name)
    digest = model_dir_digest(params)
    record = read_record(params["record"]) if digest is not None else {}
    reasons = load_reasons(params, entries, loaded_config, digest, record)
    extra = {} if digest is None else {"digest": digest}
    if not reasons:
        return dict(summary(name, entries), changed=False, load_reasons=[], **extra)
    diff = load_diff(params, entries, loaded_config, digest, record)
    if not module.check_mode:
        try:
            client.load_model(name, params["config"])
        except TritonError as error:
            if error.status is None:
                raise
            raise load_failure(client, name, error) from error
        entries = client.settled_entries(name)
        verify_loaded(name, entries, params["versions"])
        diff["after"]["versions"] = ready_versions(entries)
        if digest is not None:
            loaded = {"name": name, "digest": digest, "versions": ready_versions(entries), "config": params["config"]}
            write_record(module, params["record"], loaded)
    return dict(summary(name, entries), changed=True, diff=diff, load_reasons=reasons, **extra)


def ensure_unloaded(module, client):
    name = module.params["name"]
    entries = client.settled_entries(name)
    if model_state(entries) != "READY":
        return dict(summary(name, entries), changed=False)
    diff = {
        "before": {"state": "READY", "versions": ready_versions(entries)},
        "after": {"state": "UNAVAILABLE", "versions": []},
    }
    if not module.check_mode:
        client.unload_model(name)
        entries = client.settled_entries(name)
    return dict(summary(name, entries), changed=True, diff=diff)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_together=[("model_dir", "record")]
    )
    params = module.params
    error = argument_errors(params)
    if error:
        module.fail_json(msg=error)
    try:
        client = TritonClient(
            url=params["url"],
            timeout=params["timeout"],
            use_ssl=params["use_ssl"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
        )
    except ValueError as bad_url:
        module.fail_json(msg=str(bad_url))
    ensure = ensure_loaded if params["state"] == "loaded" else ensure_unloaded
    try:
        result = ensure(module, client)
    except ModelFailure as failure:
        module.fail_json(msg=str(failure), **summary(params["name"], failure.entries))
    except TritonError as failure:
        module.fail_json(msg=str(failure), name=params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
