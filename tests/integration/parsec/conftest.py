"""Fixtures for the tests against a real Parsec service, given by PARSEC_SERVICE_ENDPOINT.

tests/integration/parsec/run-local.sh starts one on this host; the lab's hosts run their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.client import ParsecClient
from ansible_collections.edgefaas.platform.plugins.module_utils.parsec.errors import ParsecStatusError


@pytest.fixture(scope="session")
def endpoint() -> str:
    value = os.environ.get("PARSEC_SERVICE_ENDPOINT")
    if not value:
        pytest.skip(
            "PARSEC_SERVICE_ENDPOINT is not set: these tests need a running Parsec service "
            "(tests/integration/parsec/run-local.sh starts one)"
        )
    return value


@pytest.fixture
def client(endpoint) -> ParsecClient:
    return ParsecClient(endpoint=endpoint, timeout=30)


@pytest.fixture
def key_name(client):
    """A fresh key name per test (the service may outlive the run); the key is destroyed afterwards."""
    names = []

    def make(prefix: str = "test") -> str:
        names.append("{}-{}".format(prefix, uuid.uuid4().hex[:10]))
        return names[-1]

    yield make
    for name in names:
        try:
            client.destroy_key(name)
        except ParsecStatusError as error:
            if error.status_name != "PsaErrorDoesNotExist":
                raise


@pytest.fixture(scope="session")
def parsec_tool(endpoint):
    """Runs parsec-tool against the same service; returns its stdout."""
    path = os.environ.get("PARSEC_TOOL") or shutil.which("parsec-tool")
    if not path:
        pytest.skip("parsec-tool not found: set PARSEC_TOOL or put it on PATH")

    def run(*args: str) -> str:
        environment = dict(os.environ, PARSEC_SERVICE_ENDPOINT=endpoint, RUST_LOG="error")
        completed = subprocess.run(
            [path, *args], env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        assert completed.returncode == 0, "parsec-tool {} failed: {}".format(" ".join(args), completed.stderr)
        return completed.stdout

    return run
