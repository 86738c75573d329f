"""`python -m examples.fastapi_app` (`make demo`): the example gateway on http://127.0.0.1:8000.

Without a key in the environment it generates a random HS256 dev key (tokens die with the
process), sets the audience to this server's `/mcp` and maps the dev authorization server's
scopes to permissions (`MCP_AUTH_SCOPE_PERMISSIONS`); with `EXAMPLE_TOKEN_FORMAT=opaque` it also
points the middleware's introspection at its own `/oauth/introspect` with generated credentials.
It prints how to connect an MCP client, the login address and a ready-to-paste curl line with a
bearer token. Loopback only: the dev login has known passwords.
"""

from __future__ import annotations

import json
import os
import secrets

import uvicorn

from .authorization_server import SCOPE_PERMISSIONS
from .config import token_format_from_env
from .main import create_app
from .users import DEV_USERS_ENV, TokenIssuer, dev_users_from_env

HOST = "127.0.0.1"
PORT_ENV = "EXAMPLE_PORT"
FORMATS = {"jwt": "JWTs signed with the dev key", "opaque": "opaque, checked at /oauth/introspect (RFC 7662)"}
KEY_VARIABLES = ("MCP_AUTH_JWT_SECRET", "MCP_AUTH_JWT_PUBLIC_KEY", "MCP_AUTH_JWKS_URL")


def main() -> None:
    port = int(os.environ.get(PORT_ENV, "8000"))
    base_url = f"http://{HOST}:{port}"
    generated_key = not any(os.environ.get(name) for name in KEY_VARIABLES)
    if generated_key:
        os.environ["MCP_AUTH_JWT_SECRET"] = secrets.token_urlsafe(48)
    os.environ.setdefault("MCP_AUTH_JWT_AUDIENCE", f"{base_url}/mcp")
    os.environ.setdefault("MCP_AUTH_SCOPE_PERMISSIONS", json.dumps(SCOPE_PERMISSIONS))
    token_format = token_format_from_env()
    if token_format == "opaque" and not os.environ.get("MCP_AUTH_INTROSPECTION_URL"):
        os.environ["MCP_AUTH_INTROSPECTION_URL"] = f"{base_url}/oauth/introspect"
        os.environ["MCP_AUTH_INTROSPECTION_CLIENT_ID"] = "example-gateway"
        os.environ["MCP_AUTH_INTROSPECTION_CLIENT_SECRET"] = secrets.token_urlsafe(32)

    app = create_app()
    users = dev_users_from_env()
    issuer = TokenIssuer(app.state.settings)
    lines = ["", "asgi-mcp-auth example gateway", f"  Sign in:  {base_url}/admin/login"]
    if DEV_USERS_ENV not in os.environ:
        lines.append("            admin / adminpass (may fetch tools), viewer / viewerpass (may not)")
    if generated_key:
        lines.append("  Key:      a random HS256 dev key (MCP_AUTH_JWT_SECRET); tokens stop working on exit")
    lines.append(f"  Audience: {app.state.settings.jwt_audience}")
    if issuer.enabled and users:
        user = next(iter(users.values()))
        lines.append(f"  Try ({user.name}, valid {issuer.ttl_seconds // 60} minutes):")
        lines.append(f'    curl -H "Authorization: Bearer {issuer.issue(user)}" {base_url}/whoami')
    lines.append(f"  MCP:      {base_url}/mcp  (streamable HTTP; the same bearer token works)")
    lines.append(f"  Metrics:  {base_url}/metrics  (Prometheus text; a token with metrics.read: the admin role)")
    if app.state.authorization_server is not None:
        lines += [
            "  Connect an MCP client (OAuth): give it the URL above and nothing else. On its first",
            "            request it gets a 401, discovers this gateway's authorization server, registers",
            f"            itself and sends you to {base_url}/oauth/authorize to sign in there.",
            f"            Access tokens: {FORMATS[token_format]}. Viewers are never granted mcp:tools.",
        ]
    lines.append("")
    print("\n".join(lines), flush=True)
    uvicorn.run(app, host=HOST, port=port)


if __name__ == "__main__":
    main()
