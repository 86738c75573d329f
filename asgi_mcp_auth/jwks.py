"""JWKS key resolution (in progress)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError
from .settings import AuthSettings


class JWKSClient:
    @classmethod
    def from_settings(cls, settings: AuthSettings) -> JWKSClient:
        raise ConfigurationError("MCP_AUTH_JWKS_URL is not supported yet")

    async def key_for(self, header: Mapping[str, Any]) -> Any:
        raise NotImplementedError
