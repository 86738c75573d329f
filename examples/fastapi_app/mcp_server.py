"""The example gateway's MCP server: the real `mcp` SDK (2.3), streamable HTTP, two tools.

Usage from the gateway's `create_app()` (one MCP server per app: the SDK's session manager
can be run only once)::

    mcp = build_mcp_server()                 # stateful; stateless=True or EXAMPLE_MCP_STATELESS=1
    app = FastAPI(lifespan=lambda app: mcp_lifespan(mcp))
    mount_mcp(app, mcp)                      # endpoint: /mcp (and /mcp/), no redirect
    app.add_middleware(MCPAuthMiddleware, ...)

How a tool handler reads its caller (three views of ONE identity, all per request):

    @server.tool()
    def whoami(ctx: Context) -> ...:
        principal = principal_from(ctx.request_context.request)   # the Principal of THIS call

- `principal_from(ctx.request_context.request)` is the one to use. `ctx.request_context.request`
  is the Starlette `Request` of the HTTP POST that carried this `tools/call` (the transport
  builds it per POST; `ServerRunner._make_context` in `mcp/server/runner.py` copies it onto the
  context), and `MCPAuthMiddleware` stored the principal in its scope. In a stateful session
  whose requests carry different tokens (a refreshed token, narrower scopes) it is always the
  token of the current call. It is `None` on stdio, where there is no HTTP request.
- `current_principal()` reads the middleware's ContextVar. With SDK 2.x it is the same
  principal, because the transport runs each message's handler in a copy of the context of the
  request that posted it; code that cannot reach the request may use it.
- `get_access_token()` (the SDK's) returns the `AccessToken` the middleware derived from the same
  principal (`subject`, `client_id`, OAuth `scopes`, `claims`), also per request.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.request_state import RequestStateSecurity
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import InputRequiredResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from asgi_mcp_auth import current_principal, principal_from

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "SERVER_NAME",
    "REQUEST_STATE_KEY_ENV",
    "STATELESS_ENV",
    "ExampleMCPServer",
    "WhoAmI",
    "build_mcp_server",
    "mcp_lifespan",
    "mount_mcp",
    "stateless_from_env",
]

SERVER_NAME = "asgi-mcp-auth example"

#: Environment variable that makes `build_mcp_server()` stateless when `stateless` is not given.
STATELESS_ENV = "EXAMPLE_MCP_STATELESS"

#: Environment variable with the key (>= 32 bytes) that seals the SDK's multi-round-trip
#: `requestState`. Replicas behind one load balancer must share it, or state minted on one is
#: refused by another; unset, each process seals under its own random key.
REQUEST_STATE_KEY_ENV = "EXAMPLE_REQUEST_STATE_KEY"

#: `Host` values the SDK's DNS-rebinding protection accepts by default here. `"name:*"` means
#: that host on any port; a bare `"name"` entry is needed for a Host header without a port.
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost")


class WhoAmI(TypedDict):
    """Structured result of the `whoami` tool."""

    sub: str
    token_source: str
    scopes: list[str]
    context_sub: str | None
    access_token_sub: str | None


@dataclass(frozen=True)
class ExampleMCPServer:
    """The `MCPServer` together with the one ASGI app (and session manager) built for it.

    `MCPServer.streamable_http_app()` creates a NEW session manager on every call and
    `server.session_manager` then names the newest one, so it is called exactly once, here.
    """

    server: MCPServer
    asgi_app: Starlette
    stateless: bool = False

    @property
    def session_manager(self) -> StreamableHTTPSessionManager:
        return self.server.session_manager

    def live_sessions(self) -> int:
        """Open stateful sessions (private SDK attribute `_server_instances`; 0 when stateless)."""
        return len(self.server.session_manager._server_instances)


def _transport_security(allowed_hosts: Sequence[str] | None) -> TransportSecuritySettings:
    hosts = list(DEFAULT_ALLOWED_HOSTS if allowed_hosts is None else allowed_hosts)
    # The Origin check only applies to requests that send Origin (browsers); allow the
    # same hosts over http and https.
    origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def stateless_from_env() -> bool:
    """`EXAMPLE_MCP_STATELESS`: `1`, `true`, `yes` or `on` (any case) mean stateless."""
    return os.environ.get(STATELESS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def build_mcp_server(*, stateless: bool | None = None, allowed_hosts: list[str] | None = None) -> ExampleMCPServer:
    """Create the example `MCPServer` with tools `whoami`, `echo` and `echo_later`, and its ASGI app.

    Stateful (sessions with an `mcp-session-id`) unless `stateless=True`, or `stateless` is not
    given and `EXAMPLE_MCP_STATELESS` is set (see `stateless_from_env`).

    `allowed_hosts` are the `Host` header values the SDK's DNS-rebinding protection lets in
    (`"gw.example.com"`, `"gw.example.com:*"` for any port); default: 127.0.0.1 and localhost
    on any port. Anything else is answered 421 by the SDK.
    """
    if stateless is None:
        stateless = stateless_from_env()
    key = os.environ.get(REQUEST_STATE_KEY_ENV)
    # The SDK binds sealed state to (client_id, iss, sub) of the AccessToken the middleware sets.
    security = RequestStateSecurity(keys=[key]) if key else None
    server = MCPServer(SERVER_NAME, request_state_security=security)

    @server.tool()
    def whoami(ctx: Context) -> WhoAmI:
        """Who the server thinks is calling: the principal of the HTTP request carrying this call.

        `sub`, `token_source` and `scopes` come from `principal_from(request)`; `context_sub` is
        what `current_principal()` says and `access_token_sub` what the SDK's
        `get_access_token()` says, reported separately so a disagreement would show.
        """
        request = ctx.request_context.request
        if not isinstance(request, Request):
            raise ToolError("whoami needs the HTTP transport")
        principal = principal_from(request)
        if principal is None:
            raise ToolError("This request is not authenticated")
        from_context = current_principal()
        access_token = get_access_token()
        return WhoAmI(
            sub=principal.subject,
            token_source=principal.token_source.value,
            scopes=sorted(principal.scopes),
            context_sub=from_context.subject if from_context is not None else None,
            access_token_sub=access_token.subject if access_token is not None else None,
        )

    @server.tool()
    def echo(text: str) -> str:
        """Return `text` unchanged."""
        return text

    @server.tool()
    def echo_later(text: str, ctx: Context) -> InputRequiredResult | str:
        """Two rounds (protocol 2026-07-28): the first answers `input_required` with a sealed
        `requestState`, the retry that echoes it gets `text` back. The SDK seals the state and
        binds it to the caller, so only the same principal can finish the call."""
        if ctx.request_state is None:
            return InputRequiredResult(request_state=f"later:{text}")
        return ctx.request_state.removeprefix("later:")

    asgi_app = server.streamable_http_app(
        streamable_http_path="/",
        stateless_http=stateless,
        transport_security=_transport_security(allowed_hosts),
    )
    return ExampleMCPServer(server=server, asgi_app=asgi_app, stateless=stateless)


def mount_mcp(app: Starlette, mcp: ExampleMCPServer, path: str = "/mcp") -> None:
    """Serve the streamable HTTP endpoint at exactly `path`, the URL the RFC 9728 metadata
    advertises as the resource, and at `path + "/"`: no 307 from one to the other (a redirect
    would be built from the `Host` header, and some clients drop the `Authorization` header or
    the POST body when they follow it).

    The routes call the SDK's endpoint app directly (the one route of `mcp.asgi_app`), so its
    lifespan is not run by Starlette: enter `mcp_lifespan(mcp)` from the parent app's lifespan.
    """
    endpoint = next(route.app for route in mcp.asgi_app.routes if isinstance(route, Route) and route.path == "/")
    for served in (path, path + "/"):
        app.router.routes.append(Route(served, endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False))


@contextlib.asynccontextmanager
async def mcp_lifespan(mcp: ExampleMCPServer) -> AsyncIterator[None]:
    """Run the session manager for the parent app's lifetime (once per server instance)."""
    async with mcp.session_manager.run():
        yield
