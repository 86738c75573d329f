"""PrecedencePolicy: the one decision of which credential a request carries."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_mcp_auth import (
    AuthenticationError,
    BrowserPolicy,
    CrossSiteRequest,
    InvalidRequest,
    PrecedencePolicy,
    UnsupportedScheme,
)
from asgi_mcp_auth.core.principal import TokenSource

ORIGIN = "https://gw.example.com"
FROM_ADMIN = [("referer", f"{ORIGIN}/admin"), ("sec-fetch-site", "same-origin")]


def policy(**options: Any) -> PrecedencePolicy:
    return PrecedencePolicy(browser=BrowserPolicy(public_origin=ORIGIN), **options)


def scope(headers: list[tuple[str, str]], method: str = "GET", path: str = "/api") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "scheme": "https",
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("authorization", "Bearer aaa.bbb.ccc")], ("aaa.bbb.ccc", TokenSource.HEADER)),
        ([("authorization", "bearer aaa.bbb.ccc")], ("aaa.bbb.ccc", TokenSource.HEADER)),
        ([("authorization", "BEARER   aaa.bbb.ccc  ")], ("aaa.bbb.ccc", TokenSource.HEADER)),
        (
            [("authorization", "Bearer aaa.bbb.ccc"), ("cookie", "jwt_token=ddd.eee.fff"), *FROM_ADMIN],
            ("aaa.bbb.ccc", TokenSource.HEADER),
        ),
        ([("cookie", "jwt_token=ddd.eee.fff"), *FROM_ADMIN], ("ddd.eee.fff", TokenSource.COOKIE)),
        ([("cookie", 'jwt_token="ddd.eee.fff"'), *FROM_ADMIN], ("ddd.eee.fff", TokenSource.COOKIE)),
        ([("cookie", "theme=dark; jwt_token=ddd.eee.fff; lang=en"), *FROM_ADMIN], ("ddd.eee.fff", TokenSource.COOKIE)),
        ([("cookie", "jwt_token=ddd.eee.fff")], None),
        ([("cookie", "jwt_token=")], None),
        ([("cookie", "xjwt_token=ddd.eee.fff; jwt_tokenx=ggg"), *FROM_ADMIN], None),
        ([], None),
    ],
)
def test_header_first_selects_the_header_else_a_browser_cookie(
    headers: list[tuple[str, str]], expected: tuple[str, TokenSource] | None
) -> None:
    credential = policy().select(scope(headers))

    assert (None if credential is None else (credential.token, credential.source)) == expected


@pytest.mark.parametrize(
    "headers",
    [
        [("authorization", "Bearer a.b.c d.e.f")],
        [("authorization", "Bearer a.b.c,Bearer d.e.f")],
        [("authorization", "Bearer a.b.c"), ("authorization", "Bearer a.b.c")],
        [("authorization", "Bearer tok\\en")],
        [("cookie", "jwt_token=a.b.c; jwt_token=d.e.f"), *FROM_ADMIN],
        [("cookie", "jwt_token=a.b.c"), ("cookie", "jwt_token=d.e.f"), *FROM_ADMIN],
        [("cookie", "jwt_token=a.b.c; jwt_token=a.b.c"), *FROM_ADMIN],
        [("cookie", "jwt_token=; jwt_token=a.b.c"), *FROM_ADMIN],
    ],
)
def test_ambiguous_or_malformed_credentials_are_invalid_requests(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidRequest):
        policy().select(scope(headers))


@pytest.mark.parametrize(
    "value", ["Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Token a.b.c", "a.b.c", "Bearer", "Bearer ", "", "   "]
)
def test_another_scheme_or_no_token_is_no_credential_with_a_plain_challenge(value: str) -> None:
    with pytest.raises(UnsupportedScheme) as refused:
        policy().select(scope([("authorization", value)]))

    assert refused.value.status_code == 401
    assert refused.value.error_code is None


def test_header_only_never_reads_the_cookie() -> None:
    headers = [("cookie", "jwt_token=a.b.c; jwt_token=d.e.f"), *FROM_ADMIN]

    assert policy(mode="header-only").select(scope(headers)) is None


def test_oversize_token_is_refused_before_any_decoding() -> None:
    with pytest.raises(AuthenticationError, match="too large"):
        policy(max_token_bytes=100).select(scope([("authorization", "Bearer " + "a" * 101)]))


def test_cross_site_cookie_on_an_unsafe_method_is_refused() -> None:
    headers = [("cookie", "jwt_token=a.b.c"), ("origin", "https://evil.example"), ("referer", f"{ORIGIN}/admin")]

    with pytest.raises(CrossSiteRequest):
        policy().select(scope(headers, method="POST"))
    assert policy().select(scope(headers, method="GET")) is None


def test_custom_header_and_cookie_names_are_honoured() -> None:
    custom = policy(header_name="X-Gateway-Token", cookie_name="__Host-session")

    from_header = custom.select(scope([("x-gateway-token", "Bearer a.b.c"), ("authorization", "Basic x")]))
    from_cookie = custom.select(scope([("cookie", "__Host-session=d.e.f; jwt_token=x"), *FROM_ADMIN]))

    assert from_header is not None
    assert from_header.token == "a.b.c"
    assert from_cookie is not None
    assert from_cookie.token == "d.e.f"


def test_credential_repr_never_shows_the_token() -> None:
    credential = policy().select(scope([("authorization", "Bearer secret.token.value")]))

    assert "secret.token.value" not in repr(credential)
