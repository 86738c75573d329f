"""Error responses: status from the exception type, RFC 6750 / RFC 9728 challenges.

On MCP endpoints the body is a JSON-RPC error echoing the request id; elsewhere it is
`{"detail": ...}`. Bodies carry only the exception's public message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse, Response

from ..core.errors import AuthenticationError, AuthError, CredentialsMissing, PermissionDenied, ServiceUnavailable

__all__ = [
    "INTERNAL_ERROR_MESSAGE",
    "JSONRPC_AUTH_ERROR",
    "challenge",
    "error_response",
    "internal_error_response",
    "request_id_of",
]

JSONRPC_AUTH_ERROR = -32000
_ID_TYPES = (str, int, float, type(None))


def _quote(value: str) -> str:
    # RFC 7230 quoted-string: escape backslash and quote, drop what a header cannot carry.
    cleaned = "".join(ch for ch in value if 0x20 <= ord(ch) < 0x7F)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(error: AuthError, *, resource_metadata_url: str | None = None, scopes: Sequence[str] = ()) -> str | None:
    """The `WWW-Authenticate` value for `error`, or None when it carries no challenge.

    `scopes` are the OAuth scopes for basic access, named in a 401's `scope=` (MCP 2025-11-25);
    a 403's `scope=` names the scopes that would grant the missing permission, else the permission.
    """
    if error.error_code is None and not isinstance(error, CredentialsMissing):
        return None  # e.g. a cross-site refusal: no credential would change the answer
    params: list[str] = []
    if error.error_code is not None:
        params.append(f"error={_quote(error.error_code)}")
        params.append(f"error_description={_quote(error.message)}")
    if isinstance(error, PermissionDenied) and (error.scopes or error.permission):
        params.append(f"scope={_quote(' '.join(error.scopes) or error.permission or '')}")
    elif isinstance(error, AuthenticationError) and scopes:
        params.append(f"scope={_quote(' '.join(scopes))}")
    if resource_metadata_url:
        params.append(f"resource_metadata={_quote(resource_metadata_url)}")
    return "Bearer " + ", ".join(params) if params else "Bearer"


def request_id_of(body: bytes | None) -> Any:
    """The JSON-RPC id of a request body (the first of a batch), or None."""
    if not body:
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(payload, list) and payload:
        payload = payload[0]
    if isinstance(payload, dict):
        request_id = payload.get("id")
        if isinstance(request_id, _ID_TYPES) and not isinstance(request_id, bool):
            return request_id
    return None


def error_response(
    error: AuthError,
    *,
    jsonrpc: bool,
    request_id: Any = None,
    resource_metadata_url: str | None = None,
    scopes: Sequence[str] = (),
) -> Response:
    headers = {"Cache-Control": "no-store"}
    value = challenge(error, resource_metadata_url=resource_metadata_url, scopes=scopes)
    if value is not None:
        headers["WWW-Authenticate"] = value
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    content: dict[str, Any]
    if jsonrpc:
        content = {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": error.jsonrpc_code, "message": error.message},
        }
    else:
        content = {"detail": error.message}
    return JSONResponse(content, status_code=error.status_code, headers=headers)


INTERNAL_ERROR_MESSAGE = "Internal error while authenticating"


def internal_error_response(*, jsonrpc: bool, request_id: Any = None) -> Response:
    message = INTERNAL_ERROR_MESSAGE
    content: dict[str, Any]
    if jsonrpc:
        content = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32603, "message": message}}
    else:
        content = {"detail": message}
    return JSONResponse(content, status_code=500, headers={"Cache-Control": "no-store"})
