"""Small hand-written MCP gateways for the checker's tests (not test modules).

`build_gateway(bug=None)` is a gateway that does everything right: HS256 bearer tokens only
(cookies are never used), 401 challenges, RFC 9728 metadata, `tools/call` needs the
`developer` or `admin` role, sessions bound to their user through the SDK. Each `Bug` adds
exactly one mistake that real gateways shipped; the checker must name it.
"""

from __future__ import annotations

import contextlib
import enum
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import jwt
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tokens import AUDIENCE, SECRET

__all__ = ["Bug", "build_gateway"]

METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
CHALLENGE = f'Bearer resource_metadata="http://gateway.test{METADATA_PATH}"'
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
EXECUTORS = frozenset({"admin", "developer"})


class Bug(enum.Enum):
    COOKIE_FIRST_FALLBACK = "cookie-first fallback: whoami re-resolves the caller, preferring the cookie"
    TRUTHY_AUTH_RESULT = 'truthy {"authenticated": "false"}: any non-empty result counts as success'
    MESSAGE_MATCHED_500 = "errors mapped to 401 by matching their message, everything else a 500"
    PREFIX_SKIPS_CHECKS = "method permissions checked only when the path starts with /mcp"
    UNBOUND_SESSION = "sessions not bound to their user (a plain Starlette user in the scope)"


class AuthFailed(Exception):
    pass


def _decode(token: str) -> dict[str, Any]:
    # PyJWT also decodes padded spellings of a token; one token, one spelling (RFC 7515 §7.1).
    if not COMPACT_JWS.fullmatch(token):
        raise jwt.DecodeError("Invalid token format")
    claims: dict[str, Any] = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    return claims


def _authenticate(token: str, bug: Bug | None) -> dict[str, Any]:
    """The callback style of seed 002: a result object, not an exception."""
    try:
        return {"authenticated": True, "claims": _decode(token)}
    except jwt.PyJWTError:
        return {"authenticated": "false" if bug is Bug.TRUTHY_AUTH_RESULT else False}


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key == "jwt_token":
                    return str(cookie)
    return None


def _fallback_identity(request: Request) -> str | None:
    """What a fallback that prefers the cookie decides (seed 000)."""
    token = _cookie(request.scope) or _bearer(request.scope)
    try:
        return str(_decode(token)["sub"]) if token else None
    except jwt.PyJWTError:
        return None


def _identity(request: Request, bug: Bug | None) -> str | None:
    if bug is Bug.COOKIE_FIRST_FALLBACK:
        return _fallback_identity(request)
    claims = request.scope.get("gateway.claims")
    return str(claims["sub"]) if claims else None


class GatewayAuth:
    """The gateway's own auth middleware; `bug` decides which mistake it makes."""

    def __init__(self, app: ASGIApp, bug: Bug | None) -> None:
        self.app = app
        self.bug = bug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/health", METADATA_PATH):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            refusal = self._refusal(scope, body)
        except Exception as exc:
            text = str(exc)
            if "Invalid" in text or "expired" in text or "Signature" in text:
                refusal = JSONResponse({"detail": text}, 401, {"WWW-Authenticate": CHALLENGE})
            else:
                refusal = JSONResponse({"detail": "Internal Server Error"}, 500)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refusal(self, scope: Scope, body: bytes) -> JSONResponse | None:
        token = _bearer(scope)
        if token is None:
            return JSONResponse({"detail": "Authentication required"}, 401, {"WWW-Authenticate": CHALLENGE})
        if self.bug is Bug.MESSAGE_MATCHED_500:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)  # raises on bad input
            result: dict[str, Any] = {"authenticated": True, "claims": claims}
        else:
            result = _authenticate(token, self.bug)
        authenticated = (
            bool(result.get("authenticated"))
            if self.bug is Bug.TRUTHY_AUTH_RESULT
            else (result.get("authenticated") is True)
        )
        if not authenticated:
            challenge = CHALLENGE + ', error="invalid_token"'
            return JSONResponse({"detail": "Invalid token"}, 401, {"WWW-Authenticate": challenge})
        claims = result.get("claims") or {"sub": "anonymous", "roles": []}
        scope["gateway.claims"] = claims
        access = AccessToken(
            token=token,
            client_id=str(claims["sub"]),
            scopes=[],
            subject=str(claims["sub"]),
            claims={"iss": "gateway.test", **claims},
        )
        scope["user"] = SimpleUser(str(claims["sub"])) if self.bug is Bug.UNBOUND_SESSION else AuthenticatedUser(access)
        checked = scope["path"].startswith("/mcp") if self.bug is Bug.PREFIX_SKIPS_CHECKS else True
        if (
            checked
            and scope["method"] == "POST"
            and self._calls_a_tool(body)
            and not EXECUTORS & set(claims.get("roles", []))
        ):
            challenge = CHALLENGE + ', error="insufficient_scope", scope="tools.execute"'
            return JSONResponse({"detail": "tools.execute required"}, 403, {"WWW-Authenticate": challenge})
        return None

    @staticmethod
    def _calls_a_tool(body: bytes) -> bool:
        try:
            message = json.loads(body)
        except ValueError:
            return False
        messages = message if isinstance(message, list) else [message]
        return any(isinstance(item, dict) and item.get("method") == "tools/call" for item in messages)


def build_gateway(bug: Bug | None = None) -> Starlette:
    """A gateway at `/mcp/` (also under `/gw/mcp/`), `/whoami`, `/health` and RFC 9728 metadata."""
    server = MCPServer("broken-gateway")

    @server.tool()
    def whoami(ctx: Context) -> dict[str, Any]:
        request = ctx.request_context.request
        assert isinstance(request, Request)
        return {"sub": _identity(request, bug)}

    hosts = ["127.0.0.1:*", "127.0.0.1"]
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=[])
    mcp_app = server.streamable_http_app(streamable_http_path="/", transport_security=security)

    async def whoami_route(request: Request) -> JSONResponse:
        return JSONResponse({"sub": _identity(request, bug)})

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse({"resource": "http://gateway.test/mcp", "authorization_servers": ["http://gateway.test"]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/whoami", whoami_route),
            Route(METADATA_PATH, metadata),
            Mount("/mcp", mcp_app),
            Mount("/gw/mcp", mcp_app),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(GatewayAuth, bug=bug)
    return app
