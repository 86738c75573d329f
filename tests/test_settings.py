"""AuthSettings: read from MCP_AUTH_* variables, fail closed at construction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from tokens import AUDIENCE, SECRET, ec_key, public_pem, rsa_key

from asgi_mcp_auth import AuthSettings, ConfigurationError, MCPAuthMiddleware


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("never called")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MCP_AUTH_"):
            monkeypatch.delenv(name)


def test_settings_are_read_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("MCP_AUTH_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("MCP_AUTH_JWT_ALGORITHMS", "HS256, HS512")
    monkeypatch.setenv("MCP_AUTH_BROWSER_ORIGIN_PATHS", "/admin,/console")
    monkeypatch.setenv("MCP_AUTH_PRECEDENCE", "header-only")

    settings = AuthSettings()

    assert settings.jwt_algorithms == ["HS256", "HS512"]
    assert settings.browser_origin_paths == ["/admin", "/console"]
    assert settings.precedence == "header-only"
    assert settings.jwt_audience == AUDIENCE


def test_defaults_match_the_documented_table() -> None:
    settings = AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE)

    assert settings.jwt_algorithms == ["HS256"]
    assert settings.jwt_leeway_seconds == 30
    assert settings.max_token_bytes == 8192
    assert settings.header_name == "Authorization"
    assert settings.cookie_name == "jwt_token"
    assert settings.precedence == "header-first"
    assert settings.browser_origin_paths == ["/admin", "/oauth/callback"]
    assert settings.public_paths == ["/health", "/.well-known/oauth-protected-resource"]
    assert settings.mcp_paths == ["/mcp"]


def test_keyword_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_JWT_AUDIENCE", "from-env")

    assert AuthSettings(jwt_secret=SECRET, jwt_audience="explicit").jwt_audience == "explicit"


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"jwt_secret": "too-short", "jwt_audience": AUDIENCE}, "MCP_AUTH_JWT_SECRET"),
        ({"jwt_secret": SECRET}, "MCP_AUTH_JWT_AUDIENCE"),
        ({"jwt_secret": "s" * 40, "jwt_audience": AUDIENCE, "jwt_algorithms": "HS512"}, "MCP_AUTH_JWT_SECRET"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_algorithms": "none"}, "MCP_AUTH_JWT_ALGORITHMS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_algorithms": "HS256,None"}, "MCP_AUTH_JWT_ALGORITHMS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_algorithms": "HS256,RS256"}, "MCP_AUTH_JWT_ALGORITHMS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_algorithms": "RS256"}, "MCP_AUTH_JWT_SECRET"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_algorithms": "XY999"}, "MCP_AUTH_JWT_ALGORITHMS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_algorithms": ""}, "MCP_AUTH_JWT_ALGORITHMS"),
        ({"jwt_secret": SECRET, "jwks_url": "https://idp/jwks", "jwt_audience": AUDIENCE}, "MCP_AUTH_JWKS_URL"),
        ({"jwks_url": "ftp://idp/jwks", "jwt_audience": AUDIENCE, "jwt_algorithms": "RS256"}, "MCP_AUTH_JWKS_URL"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_leeway_seconds": "soon"}, "MCP_AUTH_JWT_LEEWAY_SECONDS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_leeway_seconds": -1}, "MCP_AUTH_JWT_LEEWAY_SECONDS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "max_token_bytes": 0}, "MCP_AUTH_MAX_TOKEN_BYTES"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "precedence": "cookie-first"}, "MCP_AUTH_PRECEDENCE"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "browser_origin_paths": "/"}, "BROWSER_ORIGIN_PATHS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "browser_origin_paths": "admin"}, "BROWSER_ORIGIN_PATHS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "public_paths": "health"}, "PUBLIC_PATHS"),
        ({"jwt_secret": SECRET, "jwt_audience": AUDIENCE, "jwt_secrett": "typo"}, "MCP_AUTH_JWT_SECRETT"),
    ],
)
def test_insecure_or_invalid_configuration_fails_at_construction_naming_the_variable(
    values: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        AuthSettings(**values)


def test_configuration_error_is_not_a_value_error() -> None:
    assert not issubclass(ConfigurationError, ValueError)


def test_audience_check_may_be_switched_off_explicitly() -> None:
    settings = AuthSettings(jwt_secret=SECRET, jwt_verify_audience=False)

    assert settings.jwt_audience is None


def test_secret_never_appears_in_repr_str_or_errors() -> None:
    settings = AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE)

    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    with pytest.raises(ConfigurationError) as caught:
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, jwt_leeway_seconds="x")
    assert SECRET not in str(caught.value)


def test_short_secret_error_does_not_echo_the_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AuthSettings(jwt_secret="hunter2-short", jwt_audience=AUDIENCE)

    assert "hunter2" not in str(caught.value)


def test_public_key_is_accepted_as_pem_text_or_as_a_file_path(tmp_path: Path) -> None:
    pem = public_pem(rsa_key())
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem)

    from_text = AuthSettings(jwt_public_key=pem, jwt_algorithms="RS256", jwt_audience=AUDIENCE)
    from_file = AuthSettings(jwt_public_key=str(key_file), jwt_algorithms="RS256", jwt_audience=AUDIENCE)

    assert from_text.public_key_pem() == from_file.public_key_pem() == pem.strip()


@pytest.mark.parametrize(
    ("pem", "algorithms"),
    [
        (lambda: public_pem(rsa_key()), "ES256"),
        (lambda: public_pem(ec_key()), "RS256"),
        (lambda: "not a key", "RS256"),
        (lambda: "/nonexistent/key.pem", "RS256"),
    ],
)
def test_public_key_that_does_not_fit_the_algorithms_fails_when_the_middleware_is_built(
    pem: Any, algorithms: str
) -> None:
    settings = AuthSettings(jwt_public_key=pem(), jwt_algorithms=algorithms, jwt_audience=AUDIENCE)

    with pytest.raises(ConfigurationError, match="MCP_AUTH_JWT_PUBLIC_KEY"):
        MCPAuthMiddleware(_app, settings=settings)


@pytest.mark.parametrize("origin", ["gw.example.com", "https://gw.example.com/admin", "ftp://gw.example.com"])
def test_public_origin_must_be_an_origin(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="MCP_AUTH_PUBLIC_ORIGIN"):
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, public_origin=origin)


def test_trusted_origins_must_be_origins() -> None:
    with pytest.raises(ConfigurationError, match="MCP_AUTH_TRUSTED_ORIGINS"):
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, trusted_origins="https://ok.example,evil")


def test_middleware_without_any_configuration_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="No verification key"):
        MCPAuthMiddleware(_app)
