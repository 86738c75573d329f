"""Compatibility path (`asgi_mcp_auth.jwks.JWKSError`, as documented in 0.1.0). The JWKS client
lives in `asgi_mcp_auth.credentials.jwks`; both names are exported from `asgi_mcp_auth`."""

from __future__ import annotations

from .credentials.jwks import JWKSClient, JWKSError

__all__ = ["JWKSClient", "JWKSError"]
