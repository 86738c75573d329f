"""Configuration fails closed: typos, insecure key sources and settings that would skip checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tokens import AUDIENCE, SECRET

from asgi_mcp_auth import AuthSettings, ConfigurationError

JWKS = {"jwt_algorithms": "RS256", "jwt_audience": AUDIENCE}


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("MCP_AUTH_JWT_AUDIENCEE", "MCP_AUTH_JWT_AUDIENCE"),
        ("MCP_AUTH_MCP_PATH", "MCP_AUTH_MCP_PATHS"),
        ("mcp_auth_public_path", "MCP_AUTH_PUBLIC_PATHS"),
        ("MCP_AUTH_JWKS_REFRESH_COOLDOWN", "MCP_AUTH_JWKS_REFRESH_COOLDOWN_SECONDS"),
    ],
)
def test_an_unknown_environment_variable_is_refused_with_a_suggestion_and_never_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, suggestion: str
) -> None:
    monkeypatch.setenv(variable, "s3cr3t-value-never-shown")

    with pytest.raises(ConfigurationError) as refused:
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE)

    assert f"{variable} (did you mean {suggestion}?)" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)


def test_an_unknown_variable_with_nothing_close_is_named_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_ZZZ", "1")

    with pytest.raises(ConfigurationError, match=r"Unknown environment variable: MCP_AUTH_ZZZ$"):
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE)


def test_known_environment_variables_and_other_prefixes_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_JWT_LEEWAY_SECONDS", "5")
    monkeypatch.setenv("MCP_AUTHX_OTHER", "1")
    monkeypatch.setenv("OTHER_MCP_AUTH_THING", "1")

    assert AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE).jwt_leeway_seconds == 5


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://idp.example.com/jwks", True),
        ("http://127.0.0.1:8080/jwks", True),
        ("http://127.1.2.3/jwks", True),
        ("http://[::1]:9000/jwks", True),
        ("http://localhost/jwks", True),
        ("http://idp.example.com/jwks", False),
        ("http://10.0.0.5/jwks", False),
        ("http://localhost.evil.example/jwks", False),
        ("ftp://idp.example.com/jwks", False),
        ("https:///jwks", False),
        ("idp.example.com/jwks", False),
    ],
)
def test_jwks_url_must_be_https_except_on_loopback(url: str, accepted: bool) -> None:
    if accepted:
        assert AuthSettings(jwks_url=url, **JWKS).jwks_url == url
    else:
        with pytest.raises(ConfigurationError, match="MCP_AUTH_JWKS_URL"):
            AuthSettings(jwks_url=url, **JWKS)


@pytest.mark.parametrize(
    "secret",
    ["a" * 64, " " * 64, "\t" * 40 + " " * 24, "ab" * 32, "0123" * 16, "xyz" * 22],
    ids=["one-char", "spaces", "whitespace", "two-char-unit", "four-char-unit", "three-char-unit"],
)
def test_a_secret_of_a_repeated_pattern_or_whitespace_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="MCP_AUTH_JWT_SECRET") as refused:
        AuthSettings(jwt_secret=secret, jwt_audience=AUDIENCE)

    assert secret.strip() == "" or secret not in str(refused.value)


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"mcp_paths": ""}, "MCP_AUTH_MCP_PATHS"),
        ({"mcp_paths": " , "}, "MCP_AUTH_MCP_PATHS"),
        ({"jwks_refresh_cooldown_seconds": 0.5}, "MCP_AUTH_JWKS_REFRESH_COOLDOWN_SECONDS"),
        ({"jwks_refresh_cooldown_seconds": 0}, "MCP_AUTH_JWKS_REFRESH_COOLDOWN_SECONDS"),
    ],
)
def test_settings_that_would_skip_checks_are_refused(values: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, **values)


def test_a_one_second_cooldown_is_the_least_accepted() -> None:
    settings = AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, jwks_refresh_cooldown_seconds=1)

    assert settings.jwks_refresh_cooldown_seconds == 1


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://as.example.com/introspect", True),
        ("http://127.0.0.1:9/introspect", True),
        ("http://as.example.com/x", False),
    ],
)
def test_introspection_url_must_be_https_except_on_loopback(url: str, accepted: bool) -> None:
    values: dict[str, Any] = {"introspection_url": url, "jwt_audience": AUDIENCE}
    if accepted:
        assert AuthSettings(**values).introspection_url == url
    else:
        with pytest.raises(ConfigurationError, match="MCP_AUTH_INTROSPECTION_URL"):
            AuthSettings(**values)


def test_an_issuers_jwks_url_must_be_https_except_on_loopback() -> None:
    entry = {"issuer": "https://as.example.com", "audience": AUDIENCE, "jwks_url": "http://as.example.com/jwks"}

    with pytest.raises(ConfigurationError, match="jwks_url must be an https URL"):
        AuthSettings(issuers=json.dumps([entry]), jwt_audience=AUDIENCE)
