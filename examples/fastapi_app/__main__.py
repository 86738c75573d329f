"""`python -m examples.fastapi_app` (`make demo`): the example gateway on http://127.0.0.1:8000.

Without a key in the environment it generates a random HS256 dev key (tokens die with the
process) and sets the audience to this server's `/mcp`; it prints the login address and a
ready-to-paste curl line with a bearer token. Loopback only: the dev login has known passwords.
"""

from __future__ import annotations

import os
import secrets

import uvicorn

from .main import create_app
from .users import DEV_USERS_ENV, TokenIssuer, dev_users_from_env

HOST = "127.0.0.1"
PORT_ENV = "EXAMPLE_PORT"
KEY_VARIABLES = ("MCP_AUTH_JWT_SECRET", "MCP_AUTH_JWT_PUBLIC_KEY", "MCP_AUTH_JWKS_URL")


def main() -> None:
    port = int(os.environ.get(PORT_ENV, "8000"))
    base_url = f"http://{HOST}:{port}"
    generated_key = not any(os.environ.get(name) for name in KEY_VARIABLES)
    if generated_key:
        os.environ["MCP_AUTH_JWT_SECRET"] = secrets.token_urlsafe(48)
    os.environ.setdefault("MCP_AUTH_JWT_AUDIENCE", f"{base_url}/mcp")

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
    lines += [f"  MCP:      {base_url}/mcp/  (streamable HTTP, same bearer token)", ""]
    print("\n".join(lines), flush=True)
    uvicorn.run(app, host=HOST, port=port)


if __name__ == "__main__":
    main()
