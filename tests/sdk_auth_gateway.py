"""A gateway this project did not write: the `mcp` SDK's own auth stack (`MCPServer` with a
`TokenVerifier` and `AuthSettings`, as its examples/servers/simple-auth resource server is
configured), run from the installed SDK. Only the token table and a `whoami` tool are ours."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette

__all__ = ["SDK_TOKENS", "build_sdk_gateway"]

#: role -> (opaque token, subject, scopes). The SDK's model: the scope `user` allows everything.
SDK_TOKENS: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("sdk-token-alice-0123456789abcdef", "alice", ["user"]),
    "viewer": ("sdk-token-bob-0123456789abcdef", "bob", []),
}


class TableVerifier:
    """The SDK's `TokenVerifier` protocol over a fixed table (an introspection endpoint's answers)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        for known, subject, scopes in SDK_TOKENS.values():
            if token == known:
                return AccessToken(token=token, client_id=subject, scopes=scopes, subject=subject)
        return None


def build_sdk_gateway() -> Starlette:
    server = MCPServer(
        "sdk-auth",
        token_verifier=TableVerifier(),
        auth=AuthSettings(
            issuer_url=AnyHttpUrl("http://127.0.0.1:9000"),
            required_scopes=["user"],
            resource_server_url=AnyHttpUrl("http://127.0.0.1:8001/mcp"),
        ),
    )

    @server.tool()
    def whoami() -> dict[str, str | None]:
        token = get_access_token()
        return {"sub": token.subject if token else None}

    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=["127.0.0.1:*"])
    return server.streamable_http_app(transport_security=security)
