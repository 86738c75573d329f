"""The example MCP gateway: FastAPI, `MCPAuthMiddleware`, a dev login, an admin page, the OAuth
callback page of seed 003, a real MCP server at `/mcp`, and a development authorization server
that any MCP client can log in to.

    uvicorn --factory examples.fastapi_app.main:create_app     # configured from MCP_AUTH_* variables
    python -m examples.fastapi_app                               # the demo: a dev key, 127.0.0.1:8000

Routes (see DESIGN.md): `/health`, `/whoami`, `/admin/login`, `/admin/logout`, `/admin`,
`/oauth/callback`, `POST /oauth/fetch-tools/{gateway_id}`, `/mcp` (and `/mcp/`), the RFC 9728
metadata at `/.well-known/oauth-protected-resource` (and its per-resource path), `/metrics`
(Prometheus, for a principal with `metrics.read`: the `admin` role), and, when the gateway signs
its own tokens, the dev authorization server (`oauth_routes.OAUTH_PATHS`).

The example adds its own public paths (the login form, its static files, the metadata, the
authorization server's endpoints) to the settings it is given; everything else needs a credential.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, ProcessCollector

from asgi_mcp_auth import (
    Authenticator,
    AuthError,
    AuthSettings,
    ConfigurationError,
    MCPAuthMiddleware,
    Principal,
    Revocation,
    ServiceUnavailable,
    get_authenticator,
)
from asgi_mcp_auth import principal_from as _principal_from
from asgi_mcp_auth.integrations.fastapi import require_permission
from asgi_mcp_auth.integrations.metadata import protected_resource_metadata_routes
from asgi_mcp_auth.integrations.metrics import PrometheusMetrics, metrics_route
from asgi_mcp_auth.policy.browser import BrowserVerdict

from .authorization_server import SCOPE_ROLES, DevAuthorizationServer, TokenFormat
from .config import (
    LOGIN_PATH,
    LOGOUT_PATH,
    TOKEN_FORMAT_ENV,
    allowed_hosts,
    authorization_servers,
    cookie_is_secure,
    example_settings,
    metadata_resource,
    runs_authorization_server,
    token_format_from_env,
)
from .gateways import GatewayRegistry, ToolInfo, demo_registry
from .mcp_server import build_mcp_server, mcp_lifespan, mount_mcp
from .oauth_routes import oauth_routes
from .pages import admin_page, callback_page, login_page
from .users import (
    DEFAULT_DEV_USERS,
    DEV_USERS_ENV,
    DevUser,
    TokenIssuer,
    check_password,
    parse_dev_users,
)
from .web import LoginRedirect, SecurityHeaders

__all__ = ["DEFAULT_OAUTH_GATEWAY", "create_app"]

PAGE_PATHS = ("/admin", "/oauth/callback")
#: The gateway an OAuth callback is for when its `state` names none (the demo's OAuth gateway).
DEFAULT_OAUTH_GATEWAY = "docs"
STATIC_DIR = Path(__file__).resolve().parent / "static"
NO_STORE = {"Cache-Control": "no-store"}


def _summary(description: str | None) -> str:
    """The first line of a tool's description."""
    return (description or "").strip().split("\n", 1)[0]


def _principal(request: Request) -> Principal:
    principal = _principal_from(request)
    if principal is None:  # only on public paths, which do not call this
        raise HTTPException(401, "Authentication required")
    return principal


def _is_cross_site(request: Request) -> bool:
    """Login and logout are public paths, so the middleware does not judge them: a form posted
    from another origin is refused by their handlers, by the same `BrowserPolicy` the middleware uses."""
    return get_authenticator(request).policy.browser.classify(request.scope) is BrowserVerdict.CROSS_SITE


def _refuse_cross_site(request: Request) -> None:
    if _is_cross_site(request):
        raise HTTPException(403, "Cross-site request refused")


def _not_shared() -> Response:
    # Refused here already; other replicas learn it when the store is back (see README).
    return HTMLResponse(
        "<p>Signed out on this server. The sign-out could not be shared with the other servers yet.</p>",
        status_code=503,
        headers={**NO_STORE, "Retry-After": "5"},
    )


def _cross_site_response(request: Request) -> Response | None:
    return JSONResponse({"detail": "Cross-site request refused"}, status_code=403) if _is_cross_site(request) else None


def _authorization_server(
    settings: AuthSettings, users: Mapping[str, DevUser], token_format: TokenFormat
) -> DevAuthorizationServer | None:
    """The dev authorization server, when the gateway is its own issuer (`runs_authorization_server`)."""
    resource = metadata_resource(settings)
    if resource is None or settings.jwt_secret is None or not runs_authorization_server(settings):
        return None
    introspection: tuple[str, str] | None = None
    if token_format == "opaque":
        secret = settings.introspection_client_secret
        if not (settings.introspection_url and settings.introspection_client_id and secret):
            raise ConfigurationError(
                f"{TOKEN_FORMAT_ENV}=opaque needs MCP_AUTH_INTROSPECTION_URL (this gateway's /oauth/introspect), "
                "MCP_AUTH_INTROSPECTION_CLIENT_ID and MCP_AUTH_INTROSPECTION_CLIENT_SECRET"
            )
        introspection = (settings.introspection_client_id, secret.get_secret_value())
    return DevAuthorizationServer(
        issuer=authorization_servers(settings, resource)[0],
        resource=resource,
        users=users,
        token_format=token_format,
        signing_key=settings.jwt_secret.get_secret_value(),
        algorithm=settings.jwt_algorithms[0],
        introspection_client=introspection,
    )


def create_app(
    settings: AuthSettings | None = None,
    *,
    dev_users: Mapping[str, DevUser] | None = None,
    stateless: bool | None = None,
    token_format: TokenFormat | None = None,
) -> FastAPI:
    """Build the example gateway. `settings` default to `MCP_AUTH_*`, `dev_users` to
    `EXAMPLE_DEV_USERS` (or the demo users), `stateless` to `EXAMPLE_MCP_STATELESS`,
    `token_format` (of the dev authorization server's access tokens) to `EXAMPLE_TOKEN_FORMAT`."""
    settings = example_settings(settings)
    users_from_env = os.environ.get(DEV_USERS_ENV)
    users = dev_users if dev_users is not None else parse_dev_users(users_from_env or DEFAULT_DEV_USERS)
    demo_users = dev_users is None and not users_from_env
    login_hint = "Demo accounts: admin / adminpass, viewer / viewerpass." if demo_users else None
    issuer = TokenIssuer(settings)
    # Built here, not by the middleware, so the lifespan can start and stop its revocation store
    # (shared on Redis when MCP_AUTH_REVOCATION_REDIS_URL is set, in this process otherwise).
    authenticator = Authenticator.from_settings(settings)
    mcp = build_mcp_server(stateless=stateless, allowed_hosts=allowed_hosts(settings))
    oauth_server = _authorization_server(settings, users, token_format or token_format_from_env())

    async def local_tools() -> list[ToolInfo]:
        tools = await mcp.server.list_tools()
        return [ToolInfo(name=tool.name, description=_summary(tool.description)) for tool in tools]

    registry = demo_registry(local_tools)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await authenticator.start()
        try:
            async with mcp_lifespan(mcp):  # the SDK app's own lifespan is not run: run it here
                yield
        finally:
            await authenticator.aclose()  # the revocation store and the introspection client

    app = FastAPI(title="asgi-mcp-auth example gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.gateways = registry
    app.state.mcp = mcp
    app.state.authorization_server = oauth_server
    _add_routes(app, settings, users, issuer, registry, login_hint, authenticator)
    # A registry per app (not the process-wide one): the tests build many apps in one process.
    app.state.metrics = CollectorRegistry()
    ProcessCollector(registry=app.state.metrics)
    PrometheusMetrics(authenticator, registry=app.state.metrics)
    app.router.routes.append(metrics_route(app.state.metrics))  # behind the middleware: metrics.read
    resource = metadata_resource(settings)
    if resource is not None:
        app.router.routes.extend(
            protected_resource_metadata_routes(
                settings,
                authorization_servers=authorization_servers(settings, resource),
                scopes_supported=_scopes_supported(settings, oauth_server),
                resource_name="asgi-mcp-auth example gateway",
            )
        )
    if oauth_server is not None:
        routes = oauth_routes(oauth_server, refuse_cross_site=_cross_site_response, login_hint=login_hint)
        app.router.routes.extend(routes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    mount_mcp(app, mcp)

    app.add_middleware(MCPAuthMiddleware, authenticator=authenticator)
    app.add_middleware(LoginRedirect, page_paths=PAGE_PATHS, login_path=LOGIN_PATH)
    app.add_middleware(SecurityHeaders)
    return app


def _scopes_supported(settings: AuthSettings, oauth_server: DevAuthorizationServer | None) -> list[str]:
    """The OAuth scopes of the RFC 9728 metadata: the mapped ones (`SCOPE_PERMISSIONS`), else
    the dev server's, else the permission names (scopes that narrow)."""
    mapped = list(settings.scope_grants())
    if mapped:
        return mapped
    if oauth_server is not None:
        return list(SCOPE_ROLES)
    return ["tools.read", "tools.execute", "gateways.read", "gateways.update"]


def _add_routes(
    app: FastAPI,
    settings: AuthSettings,
    users: Mapping[str, DevUser],
    issuer: TokenIssuer,
    registry: GatewayRegistry,
    login_hint: str | None,
    authenticator: Authenticator,
) -> None:
    @app.get("/health")
    async def health() -> dict[str, object]:
        body: dict[str, object] = {"status": "ok"}
        stats = getattr(authenticator.revocation, "stats", None)
        if stats is not None:  # a shared store: is this replica's copy vouched for, and what did it serve
            body["revocation"] = {"trusted": getattr(authenticator.revocation, "trusted", None), **vars(stats)}
        return body

    @app.get("/whoami")
    async def whoami(request: Request) -> JSONResponse:
        principal = _principal(request)
        return JSONResponse(
            {
                "sub": principal.subject,
                "email": principal.email,
                "roles": sorted(principal.roles),
                "teams": sorted(principal.teams),
                "permissions": sorted(principal.permissions),
                "token_source": principal.token_source.value,
            },
            headers=NO_STORE,
        )

    @app.get(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
    async def login_form() -> HTMLResponse:
        return HTMLResponse(login_page(hint=login_hint, enabled=issuer.enabled), headers=NO_STORE)

    @app.post(LOGIN_PATH, include_in_schema=False)
    async def login(
        request: Request, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = ""
    ) -> Response:
        _refuse_cross_site(request)
        if not issuer.enabled:
            return HTMLResponse(login_page(enabled=False), status_code=503, headers=NO_STORE)
        user = check_password(users, username, password)
        if user is None:
            page = login_page(error="Invalid username or password.", hint=login_hint)
            return HTMLResponse(page, status_code=401, headers={**NO_STORE, "WWW-Authenticate": "Bearer"})
        response = RedirectResponse("/admin", status_code=303, headers=NO_STORE)
        response.set_cookie(
            settings.cookie_name,
            issuer.issue(user),
            max_age=issuer.ttl_seconds,
            path="/",
            secure=cookie_is_secure(settings, request),
            httponly=True,
            samesite="lax",
        )
        return response

    @app.post(LOGOUT_PATH, include_in_schema=False)
    async def logout(request: Request, everywhere: Annotated[str, Form()] = "") -> Response:
        """Revoke the caller's token (every replica refuses it), or with `everywhere=1` every
        token of the caller issued until now ("sign out everywhere"); clear the cookie."""
        _refuse_cross_site(request)
        response: Response = RedirectResponse(LOGIN_PATH, status_code=303, headers=NO_STORE)
        try:
            identity = await authenticator.identify(request.scope)
        except ServiceUnavailable:
            identity = None  # the store cannot vouch for anything now; the revoke below fails too
            response = _not_shared()
        except AuthError:
            identity = None  # an expired, revoked or absent session still logs out
        if identity is not None:
            try:
                if everywhere:
                    principal = identity.principal
                    await authenticator.revoke(Revocation.of_subject(principal.subject, issuer=principal.issuer))
                await authenticator.revoke(identity)
            except ServiceUnavailable:
                response = _not_shared()
        response.delete_cookie(
            settings.cookie_name, path="/", secure=cookie_is_secure(settings, request), httponly=True, samesite="lax"
        )
        return response

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    async def admin(request: Request) -> HTMLResponse:
        return HTMLResponse(admin_page(_principal(request), registry), headers=NO_STORE)

    @app.get("/oauth/callback", response_class=HTMLResponse, include_in_schema=False)
    async def oauth_callback(
        request: Request, code: str | None = None, state: str | None = None, error: str | None = None
    ) -> HTMLResponse:
        # A real gateway exchanges `code` for the upstream server's tokens and stores them per
        # (gateway, user); `state` names the gateway here. The code is never echoed.
        principal = _principal(request)
        if error is None and not code:
            error = "missing authorization code"
        gateway = registry.get(state or "") or registry.get(DEFAULT_OAUTH_GATEWAY)
        status = 200 if error is None else 400
        return HTMLResponse(callback_page(principal, gateway, error=error), status_code=status, headers=NO_STORE)

    @app.post("/oauth/fetch-tools/{gateway_id}")
    async def fetch_tools(
        gateway_id: str, principal: Annotated[Principal, Depends(require_permission("gateways.update"))]
    ) -> JSONResponse:
        gateway = registry.get(gateway_id)
        if gateway is None:
            raise HTTPException(404, f"Unknown gateway: {gateway_id}")
        tools = await registry.fetch_tools(gateway, principal.subject)
        return JSONResponse(
            {"gateway_id": gateway.id, "tools": tools, "fetched_by": principal.subject}, headers=NO_STORE
        )
