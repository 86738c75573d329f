"""The HTTP side of the example's development authorization server (`authorization_server.py`):
its RFC 8414 metadata, the authorization endpoint with the dev login form, and the token,
registration and introspection endpoints.

Every URL it writes comes from the configured issuer, never from the request's `Host` header.
The authorization endpoint is a public path of the gateway, so it refuses a login form posted
from another site itself (login CSRF), with the gateway's `BrowserPolicy`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.requests import JsonPayload, JsonRequest, OAuth2Payload, OAuth2Request
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .authorization_server import DevAuthorizationServer
from .pages import authorize_page
from .users import check_password
from .web import CONTENT_SECURITY_POLICY

__all__ = ["OAUTH_PATHS", "METADATA_PATH", "oauth_routes"]

METADATA_PATH = "/.well-known/oauth-authorization-server"
OAUTH_PATHS = (METADATA_PATH, "/oauth/authorize", "/oauth/token", "/oauth/register", "/oauth/introspect")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Largest form or JSON body the dev server reads (a registration is well under 1 KiB).
MAX_BODY_BYTES = 16_384


class _Payload(OAuth2Payload):  # type: ignore[misc]
    """Query and form parameters with their repetitions kept, so authlib can refuse a request
    that names `code_challenge` (or anything else) twice."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, server: DevAuthorizationServer, request: Request, form: list[tuple[str, str]] | None) -> None:
        # The URL authlib sees is built from the issuer: the Host header decides nothing here.
        super().__init__(request.method, server.endpoint(request.url.path), headers=request.headers)
        self._args = {key: value for key, value in request.query_params.items()}
        fields = form or []
        self._form = dict(fields)
        self.payload = _Payload([*request.query_params.multi_items(), *fields])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JSONPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


def _json_request(server: DevAuthorizationServer, request: Request, data: dict[str, Any]) -> JsonRequest:
    json_request = JsonRequest(request.method, server.endpoint(request.url.path), request.headers)
    json_request.payload = _JSONPayload(data)
    return json_request


def _error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=NO_STORE)


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return body


async def _form(request: Request) -> list[tuple[str, str]] | None:
    """The urlencoded form of a POST (None when it is too large, not UTF-8 or of another type)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await _body(request) if content_type == "application/x-www-form-urlencoded" else None
    if body is None:
        return None
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None


def _login_csp(redirect_uri: str) -> str:
    """The page's CSP, with the client's origin allowed as a form target: browsers apply
    `form-action` to the redirect that answers the form, which goes to the client."""
    parts = urlsplit(redirect_uri)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}".rstrip())


def oauth_routes(
    server: DevAuthorizationServer,
    *,
    refuse_cross_site: Callable[[Request], Response | None],
    login_hint: str | None = None,
) -> list[BaseRoute]:
    """The dev authorization server's routes; `refuse_cross_site(request)` answers a login form
    posted from another origin (else None)."""

    async def metadata(request: Request) -> Response:
        return JSONResponse(server.metadata())

    async def authorize(request: Request) -> Response:
        form: list[tuple[str, str]] | None = None
        if request.method == "POST":
            refused = refuse_cross_site(request)
            if refused is not None:
                return refused
            form = await _form(request)
            if form is None:
                return _error("invalid_request", "Expected a urlencoded login form")
        oauth_request = _Request(server, request, form)
        try:
            grant = server.get_consent_grant(oauth_request)
        except OAuth2Error as error:
            # authlib redirects only once the client and its redirect_uri are known to be good.
            response: Response = server.handle_error_response(oauth_request, error)
            return response
        try:
            server.checked_resource(oauth_request.payload.data.get("resource"))
        except OAuth2Error as error:
            error.redirect_uri = grant.redirect_uri
            error.state = oauth_request.payload.state
            response = server.handle_error_response(oauth_request, error)
            return response
        client = grant.client
        query = urlencode(list(request.query_params.multi_items()))

        def page(error: str | None = None, status: int = 200) -> HTMLResponse:
            html = authorize_page(
                action=f"/oauth/authorize?{query}",
                client_name=client.client_name or client.client_id,
                scope=oauth_request.payload.scope or "",
                error=error,
                hint=login_hint,
            )
            headers = {**NO_STORE, "Content-Security-Policy": _login_csp(grant.redirect_uri)}
            return HTMLResponse(html, status_code=status, headers=headers)

        if form is None:
            return page()
        fields = dict(form)
        user = check_password(server.users, fields.get("username", ""), fields.get("password", ""))
        if user is None:
            return page("Invalid username or password.", 401)
        response = server.create_authorization_response(oauth_request, grant_user=user, grant=grant)
        return response

    async def token(request: Request) -> Response:
        form = await _form(request)
        if form is None:
            return _error("invalid_request", "Expected a urlencoded token request")
        response: Response = server.create_token_response(_Request(server, request, form))
        return response

    async def register(request: Request) -> Response:
        body = await _body(request)
        try:
            data = json.loads(body) if body is not None else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error("invalid_client_metadata", "Expected a JSON object of client metadata")
        json_request = _json_request(server, request, data)
        response: Response = server.create_endpoint_response("client_registration", json_request)
        return response

    async def introspect(request: Request) -> Response:
        form = await _form(request)
        if form is None:
            return _error("invalid_request", "Expected a urlencoded introspection request")
        response: Response = server.create_endpoint_response("introspection", _Request(server, request, form))
        return response

    routes: list[BaseRoute] = [
        Route(METADATA_PATH, metadata, methods=["GET"]),
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/register", register, methods=["POST"]),
    ]
    if server.token_format == "opaque":
        routes.append(Route("/oauth/introspect", introspect, methods=["POST"]))
    return routes
