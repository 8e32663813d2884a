# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Argument spec pieces shared by the Parsec modules.

Documented by the doc fragments edgefaas.platform.parsec (connection) and
edgefaas.platform.parsec.provider: change both together.
"""

from __future__ import annotations

import copy
from typing import Optional

from ansible_collections.edgefaas.platform.plugins.module_utils.parsec import (
    DEFAULT_TIMEOUT,
    ParsecClient,
    ParsecError,
    ProviderInfo,
    direct_auth,
    provider_id_from_name,
)

PARSEC_CONNECTION_ARGS = {
    "endpoint": {"type": "str"},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
    "app_name": {"type": "str"},
}

PARSEC_PROVIDER_ARGS = {
    "provider": {"type": "str"},
}


def parsec_argument_spec(with_provider: bool = False, **module_args) -> dict:
    """The shared options (deep-copied, so modules may not alter each other's) plus the module's own."""
    spec = copy.deepcopy(PARSEC_CONNECTION_ARGS)
    if with_provider:
        spec.update(copy.deepcopy(PARSEC_PROVIDER_ARGS))
    spec.update(module_args)
    return spec


def parsec_client(params: dict) -> ParsecClient:
    """A client for the module's connection options; the provider is chosen by resolve_provider()."""
    auth = direct_auth(params["app_name"]) if params.get("app_name") else None
    return ParsecClient(endpoint=params.get("endpoint"), auth=auth, timeout=params["timeout"])


def resolve_provider(client: ParsecClient, requested: Optional[str]) -> ProviderInfo:
    """The requested provider, or the service's first, as the service lists it; set on the client."""
    wanted = None if requested is None else provider_id_from_name(requested)
    providers = client.crypto_providers()
    chosen = providers[0] if wanted is None else next((p for p in providers if p.id == wanted), None)
    if chosen is None:
        configured = ", ".join("{} ({})".format(provider.name, provider.id) for provider in providers)
        raise ParsecError(
            "provider {} is not configured in the Parsec service at {}: choose one of {}".format(
                requested, client.socket_path, configured
            )
        )
    client.provider_id = chosen.id
    return chosen
