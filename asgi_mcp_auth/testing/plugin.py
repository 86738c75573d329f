"""The pytest plugin of asgi-mcp-auth (loaded through the `pytest11` entry point).

Fixtures, all named `mcp_auth_*` so they never shadow a project's own:

| fixture | gives |
|---|---|
| `mcp_auth_hs_key`, `mcp_auth_rs_key`, `mcp_auth_es_key` | a fresh `SigningKey` (HS256, RS256, ES256) |
| `mcp_auth_jwks` | a `JWKSServer` on 127.0.0.1 publishing the RS and ES keys |
| `mcp_auth_tokens` | a `TokenFactory` (RS key): `make_token(sub=, roles=)`, `expired()`, `wrong_audience()` |
| `mcp_auth_settings` | `AuthSettings` verifying those tokens through the JWKS server |
| `mcp_auth_client` | `mcp_client`: `async with mcp_auth_client(app_or_url, token=...) as session` |

Loading the plugin has no side effects: nothing is generated or started until a test asks
for a fixture, and it imports only the package's base dependencies (the SDK and uvicorn are
imported when `mcp_auth_client` is used).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..settings import AuthSettings
from .client import mcp_client
from .jwks import JWKSServer
from .keys import SigningKey, make_signing_key
from .tokens import TokenFactory

__all__ = [
    "mcp_auth_client",
    "mcp_auth_es_key",
    "mcp_auth_hs_key",
    "mcp_auth_jwks",
    "mcp_auth_rs_key",
    "mcp_auth_settings",
    "mcp_auth_tokens",
]


@pytest.fixture(scope="session")
def mcp_auth_hs_key() -> SigningKey:
    """A fresh HS256 secret, one per test session."""
    return make_signing_key("HS256")


@pytest.fixture(scope="session")
def mcp_auth_rs_key() -> SigningKey:
    """A fresh RSA 2048 key pair (RS256), one per test session."""
    return make_signing_key("RS256")


@pytest.fixture(scope="session")
def mcp_auth_es_key() -> SigningKey:
    """A fresh EC P-256 key pair (ES256), one per test session."""
    return make_signing_key("ES256")


@pytest.fixture
def mcp_auth_jwks(mcp_auth_rs_key: SigningKey, mcp_auth_es_key: SigningKey) -> Iterator[JWKSServer]:
    """Per test, so a test may `publish()` a rotation without touching the next one."""
    with JWKSServer(mcp_auth_rs_key, mcp_auth_es_key) as server:
        yield server


@pytest.fixture
def mcp_auth_tokens(mcp_auth_rs_key: SigningKey) -> TokenFactory:
    """Tokens signed with the RS key, for `DEFAULT_AUDIENCE` and `DEFAULT_ISSUER`."""
    return TokenFactory(mcp_auth_rs_key)


@pytest.fixture
def mcp_auth_settings(mcp_auth_jwks: JWKSServer, mcp_auth_tokens: TokenFactory) -> AuthSettings:
    """Settings for tokens from `mcp_auth_tokens`: keys from the JWKS server, RS256, its
    audience and issuer. Override with `mcp_auth_settings.model_copy(update={...})`."""
    return AuthSettings(
        jwks_url=mcp_auth_jwks.url,
        jwt_algorithms=["RS256"],
        jwt_audience=mcp_auth_tokens.audience,
        jwt_issuer=mcp_auth_tokens.issuer,
    )


@pytest.fixture
def mcp_auth_client() -> Callable[..., Any]:
    """`mcp_client` (see `asgi_mcp_auth.testing.mcp_client`)."""
    return mcp_client
