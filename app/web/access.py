"""Access control of the non-CDS routes (Flask glue for ``app.security.api_auth``).

- ``refuse_query_tokens`` (every route): a token in the query string (``?access_token=``) is refused
  with 401; tokens travel only in the ``Authorization`` header (query strings end up in access logs).
- ``@require_scope(scope)``: the route needs an API client token holding ``scope``; the verified
  caller is ``g.api_client`` (``None`` in loopback open mode).
- ``tenant_scope()``: the tenant a consultation read is limited to (``None``: open mode, no limit).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from app.errors import Unauthorized
from app.security.api_auth import ApiAuthenticator, ApiClient

log = logging.getLogger("spine_auc.web.access")

View = TypeVar("View", bound=Callable[..., Any])
QUERY_TOKEN_PARAMETERS = ("access_token", "token", "id_token")


def refuse_query_tokens() -> None:
    """``before_request`` of the app: a bearer token in the URL is never accepted."""
    if any(name in request.args for name in QUERY_TOKEN_PARAMETERS):
        log.warning("refused a token in the query string path=%s", request.path)
        raise Unauthorized("token in the query string", error="invalid_request")


def _audience() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return str(base).rstrip("/") if base else request.host_url.rstrip("/")


def require_scope(scope: str) -> Callable[[View], View]:
    """Decorate a view: an API client token with ``scope`` (or loopback open mode) is required."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            auth: ApiAuthenticator | None = current_app.extensions.get("spine_auc.api_auth")
            if auth is None:  # fail closed: an app built without an authenticator serves no one
                raise Unauthorized("no API authenticator")
            g.api_client = auth.authorize(
                request.headers.get("Authorization"),
                scope=scope,
                audience=_audience(),
                remote_addr=request.remote_addr,
            )
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def api_client() -> ApiClient | None:
    client: ApiClient | None = g.get("api_client")
    return client


def tenant_scope() -> str | None:
    client = api_client()
    return None if client is None else client.tenant
