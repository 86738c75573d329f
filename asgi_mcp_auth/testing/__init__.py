"""A testing kit for gateway authors: keys, tokens, a JWKS server, and the SDK's MCP client.

Installed with `pip install "asgi-mcp-auth[testing]"`; its pytest plugin (fixtures named
`mcp_auth_*`) loads by itself. The same parts work without pytest::

    from asgi_mcp_auth.testing import TokenFactory, make_signing_key, mcp_client

Not imported by `asgi_mcp_auth` itself.
"""

from __future__ import annotations

from .client import mcp_client
from .jwks import JWKSServer
from .keys import Algorithm, SigningKey, make_signing_key
from .server import serve
from .tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, TokenFactory

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_ISSUER",
    "Algorithm",
    "JWKSServer",
    "SigningKey",
    "TokenFactory",
    "make_signing_key",
    "mcp_client",
    "serve",
]
