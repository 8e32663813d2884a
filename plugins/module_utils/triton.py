# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Client for Triton Inference Server's HTTP/REST API (the KServe v2 protocol), standard library only.

One copy serves the triton_model module (on the node, through AnsiballZ), the Triton test-case
client (triton_digits.py, also run as a plain script in pods and on lab hosts) and EdgeFaaS
function B. It uses the standard library alone because tritonclient needs a newer Python than a
Jetson's distribution has, and the repository API needs only a few JSON calls.
Compatible with Python 3.8 and later.
"""

import hashlib
import http.client
import json
import os
import ssl
import time

DEFAULT_URL = "localhost:8000"
DEFAULT_TIMEOUT = 120.0
SETTLE_POLL_SECONDS = 0.25
# Index states during which Triton has not finished a load or an unload.
TRANSITIONAL_STATES = ("LOADING", "UNLOADING")


class TritonError(Exception):
    """An error answered by Triton (with its HTTP status) or met while talking to it (status None)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class ShapeError(TritonError, ValueError):
    """An input whose shape or size does not fit what the model expects."""


class TritonClient:
    """Calls on one Triton server; every call opens and closes its own connection.

    Closing each connection matters: Triton waits at shutdown while clients stay connected.
    """

    def __init__(self, url=DEFAULT_URL, timeout=DEFAULT_TIMEOUT, use_ssl=False, validate_certs=True, ca_path=None):
        if "://" in url:
            raise ValueError(f"url takes host:port without a scheme (given {url!r}); use use_ssl for HTTPS")
        self.url = url
        self.timeout = timeout
        self.use_ssl = use_ssl
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._metadata_cache = {}

    @property
    def base_url(self):
        return ("https://" if self.use_ssl else "http://") + self.url

    def _connection(self):
        if not self.use_ssl:
            return http.client.HTTPConnection(self.url, timeout=self.timeout)
        context = ssl.create_default_context(cafile=self.ca_path)
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(self.url, timeout=self.timeout, context=context)

    def request(self, method, path, body=None):
        """Send one request; return the decoded JSON answer (None when empty) or raise TritonError."""
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection = self._connection()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise TritonError(f"cannot reach Triton at {self.base_url}: {error}") from error
        finally:
            connection.close()
        document = _decode(raw)
        if status >= 400:
            raise TritonError(_error_text(document, raw, status), status=status)
        return document

    # Health and metadata

    def is_server_live(self):
        return self._is_ok("/v2/health/live")

    def is_server_ready(self):
        return self._is_ok("/v2/health/ready")

    def is_model_ready(self, name, version=""):
        return self._is_ok(_model_path(name, version) + "/ready")

    def _is_ok(self, path):
        try:
            self.request("GET", path)
        except TritonError as error:
            if error.status is None:
                raise
            return False
        return True

    def server_metadata(self):
        return self.request("GET", "/v2")

    def model_metadata(self, name, version=""):
        return self.request("GET", _model_path(name, version))

    def model_config(self, name, version=""):
        return self.request("GET", _model_path(name, version) + "/config")

    # Model repository extension

    def repository_index(self):
        return self.request("POST", "/v2/repository/index", {}) or []

    def load_model(self, name, config=None):
        body = {} if config is None else {"parameters": {"config": json.dumps(config)}}
        self.request("POST", f"/v2/repository/models/{name}/load", body)

    def unload_model(self, name):
        self.request("POST", f"/v2/repository/models/{name}/unload", {})

    def settled_entries(self, name):
        """The model's index entries once no version is loading or unloading (unload is asynchronous)."""
        deadline = time.monotonic() + self.timeout
        while True:
            entries = model_entries(self.repository_index(), name)
            if not any(entry.get("state") in TRANSITIONAL_STATES for entry in entries):
                return entries
            if time.monotonic() >= deadline:
                raise TritonError(f"model '{name}' still {model_state(entries)} after {self.timeout} s")
            time.sleep(SETTLE_POLL_SECONDS)

    # Inference (JSON tensors)

    def infer(self, name, inputs, output_names=None, version=""):
        """Run inference. inputs: {input name: (shape, flat list of values)}; returns {output name: (shape, data)}.

        Shapes are checked against the model's metadata first, so a wrong shape fails with both shapes named.
        """
        metadata = self._cached_metadata(name, version)
        body = {"inputs": request_inputs(metadata, inputs)}
        if output_names:
            body["outputs"] = [{"name": output} for output in output_names]
        answer = self.request("POST", _model_path(name, version) + "/infer", body)
        return {output["name"]: (output["shape"], output["data"]) for output in answer["outputs"]}

    def _cached_metadata(self, name, version):
        key = (name, version)
        if key not in self._metadata_cache:
            self._metadata_cache[key] = self.model_metadata(name, version)
        return self._metadata_cache[key]


def _model_path(name, version=""):
    return f"/v2/models/{name}" + (f"/versions/{version}" if version else "")


def _decode(raw):
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None


def _error_text(document, raw, status):
    if isinstance(document, dict) and "error" in document:
        return str(document["error"]).strip()
    return raw.decode("utf-8", "replace").strip() or f"HTTP {status}"


# Inference request checks


def shape_matches(expected, given):
    """Triton's rule: same rank, and -1 in the expected shape accepts any size."""
    return len(expected) == len(given) and all(want in (-1, have) for want, have in zip(expected, given))


def element_count(shape):
    count = 1
    for size in shape:
        count *= size
    return count


def request_inputs(metadata, inputs):
    """Build the v2 JSON inputs, refusing missing, unknown or misshapen tensors with a precise message."""
    model = metadata.get("name", "?")
    declared = {tensor["name"]: tensor for tensor in metadata.get("inputs", [])}
    unknown = sorted(set(inputs) - set(declared))
    missing = sorted(set(declared) - set(inputs))
    if unknown or missing:
        raise ShapeError(f"model '{model}' takes inputs {sorted(declared)}; given {sorted(inputs)}")
    tensors = []
    for name, (shape, data) in sorted(inputs.items()):
        expected = declared[name]["shape"]
        if not shape_matches(expected, list(shape)):
            raise ShapeError(f"model '{model}' input '{name}' expects shape {expected}, given {list(shape)}")
        if element_count(shape) != len(data):
            raise ShapeError(
                f"input '{name}' of shape {list(shape)} needs {element_count(shape)} values, given {len(data)}"
            )
        tensors.append({"name": name, "shape": list(shape), "datatype": declared[name]["datatype"], "data": data})
    return tensors


# Repository index helpers (pure functions on Triton's answers)


def model_entries(index, name):
    """The index entries of one model: one per version Triton knows, or one without state if never loaded."""
    return [entry for entry in index if entry.get("name") == name]


def ready_versions(entries):
    return sorted_versions(entry["version"] for entry in entries if entry.get("state") == "READY")


def sorted_versions(versions):
    """Distinct version names in numeric order ('2' before '10'); names that are not numbers last."""
    return sorted(set(versions), key=lambda version: (0, int(version)) if version.isdigit() else (1, version))


def model_state(entries):
    """READY if any version is READY; else Triton's state of the versions, UNAVAILABLE when never loaded."""
    states = {entry.get("state") for entry in entries}
    for state in ("READY", "LOADING", "UNLOADING"):
        if state in states:
            return state
    return "UNAVAILABLE"


def unavailable_reason(entries):
    """Triton's reasons for the versions that are not READY, one per distinct reason."""
    reasons = []
    for entry in entries:
        reason = entry.get("reason") or ("" if entry.get("state") else "not loaded")
        if entry.get("state") != "READY" and reason and reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons)


# Configuration comparison: Triton answers its full configuration, defaults included, so a
# desired override matches when every value it gives is equal in the loaded configuration.


def config_matches(desired, current):
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(
            key in current and config_matches(value, current[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(config_matches(want, have) for want, have in zip(desired, current))
        )
    return _same_scalar(desired, current)


def _same_scalar(desired, current):
    # Protobuf's JSON form may write 64-bit integers as strings ("8" for 8).
    if isinstance(desired, bool) or isinstance(current, bool):
        return desired is current
    if isinstance(desired, (int, float, str)) and isinstance(current, (int, float, str)):
        return desired == current or str(desired) == str(current)
    return desired == current


def config_projection(current, desired):
    """The part of the loaded configuration that the desired override speaks about (for diffs)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        return {key: config_projection(current.get(key), value) for key, value in desired.items()}
    if isinstance(desired, list) and isinstance(current, list):
        projected = [config_projection(have, want) for want, have in zip(desired, current)]
        return projected + current[len(desired) :]
    return current


# What a model directory holds: the digest the triton_model module records after a successful load
# and compares on the next run, so files copied by a run that stopped before loading still reload.


def model_digest(model_dir):
    """sha256 (64 hex digits) of a model directory: every entry's path relative to model_dir, its kind,
    and a file's content or a symlink's target; hidden entries included, order independent.

    Reads what Triton reads when it loads the model (config.pbtxt and the version directories).
    Raises OSError when model_dir cannot be read.
    """
    digest = hashlib.sha256()
    for relative, kind, detail in sorted(model_tree(model_dir)):
        digest.update(f"{relative}\0{kind}\0{detail}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def model_tree(model_dir):
    """(relative path, kind, detail) of each entry under model_dir: ('1/model.py', 'file', <sha256>),
    ('1', 'dir', ''), ('2', 'link', '<target> [<sha256 of a file target>]'). Links are not walked into."""
    if not os.path.isdir(model_dir):
        raise OSError(f"{model_dir} is not a directory")
    entries = []
    for top, directories, files in os.walk(model_dir, onerror=_raise):
        for name in sorted(directories + files):
            path = os.path.join(top, name)
            relative = os.path.relpath(path, model_dir)
            if os.path.islink(path):
                # A link to a file changes with its target's content too.
                content = file_sha256(path) if os.path.isfile(path) else ""
                entries.append((relative, "link", f"{os.readlink(path)} {content}".strip()))
            elif os.path.isdir(path):
                entries.append((relative, "dir", ""))
            else:
                entries.append((relative, "file", file_sha256(path)))
    return entries


def _raise(error):
    raise error


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
