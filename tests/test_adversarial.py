"""The adversarial matrix: raw requests and what must happen to each.

Each row is a request (method, path, headers, body) and its outcome: the status, the identity
the app saw, and whether the app was called at all. No row may end in a 500 or leak a trace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from apps import INITIALIZE, MCP_HEADERS, protect
from tokens import AUDIENCE, ISSUER, OTHER_SECRET, b64url, claims, forge, public_pem, rsa_key, settings, token, unsigned

from asgi_mcp_auth import AuthResult, Principal, principal_from

pytestmark = pytest.mark.anyio

GW = "https://gw.example.com"
A = token("alice", roles=["admin"])
B = token("bob", roles=["viewer"])
NOW = int(time.time())


@dataclass(frozen=True)
class Row:
    id: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    status: int = 200
    sub: str | None = None
    method: str = "GET"
    path: str = "/api/tools"
    body: bytes = b""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def called(self) -> bool:
        return self.status == 200


def bearer(raw: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {raw}")]


def from_page(page: str, cookie: str = B, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("cookie", f"jwt_token={cookie}"), ("referer", page), *extra]


ADMIN = f"{GW}/admin"
SAME = ("sec-fetch-site", "same-origin")
NAVIGATE = [("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document")]

CREDENTIALS = [
    Row("no credentials", status=401),
    Row("empty authorization header", [("authorization", "")], status=401),
    Row("scheme without token", [("authorization", "Bearer")], status=401),
    Row("lowercase scheme", [("authorization", f"bearer {A}")], sub="alice"),
    Row("uppercase scheme", [("authorization", f"BEARER {A}")], sub="alice"),
    Row("extra whitespace", [("authorization", f"Bearer   {A}  ")], sub="alice"),
    Row("basic scheme", [("authorization", "Basic YWxpY2U6cGFzcw==")], status=401),
    Row("token scheme", [("authorization", f"Token {A}")], status=401),
    Row("raw token without scheme", [("authorization", A)], status=401),
    Row("two tokens in one header", [("authorization", f"Bearer {A} {B}")], status=400),
    Row("comma-joined headers", [("authorization", f"Bearer {A}, Bearer {B}")], status=400),
    Row("two headers same token", [*bearer(A), *bearer(A)], status=400),
    Row("two headers different tokens", [*bearer(A), *bearer(B)], status=400),
    Row("oversize token", bearer("a" * 9000), status=401),
    Row("invalid header and valid cookie", [*bearer("x.y.z"), *from_page(ADMIN, B, SAME)], status=401),
    Row("valid header and valid cookie (seed 000)", [*bearer(A), *from_page(ADMIN, B, SAME)], sub="alice"),
    Row(
        "header-only ignores a browser cookie",
        from_page(ADMIN, B, SAME),
        status=401,
        options={"precedence": "header-only"},
    ),
]

PATHS = [
    Row(f"path {path!r} needs credentials", path=path, status=401)
    for path in [
        "/mcp",
        "/mcp/",
        "/mcp/abc",
        "/MCP",
        "//mcp",
        "/health/../mcp",
        "/health/./",
        "/health/..",
        "/.well-known/oauth-protected-resource/../../mcp",
        "/health%2F..%2Fmcp",
        "/health;/mcp",
        "/healthz",
        "/health/mcp",
        "/%2e%2e/mcp",
        "/Health",
    ]
] + [
    Row("public path exactly", path="/health"),
    Row("public path with trailing slash", path="/health/"),
    Row("public metadata path", path="/.well-known/oauth-protected-resource"),
    Row("mcp path with valid token", bearer(A), path="/mcp/", sub="alice"),
    Row("mcp path refusal is json-rpc", path="/MCP", method="POST", body=b'{"jsonrpc":"2.0","id":3}', status=401),
]

BROWSER = [
    Row("allowlisted referer", from_page(ADMIN), sub="bob"),
    Row("allowlisted referer with query", from_page(f"{ADMIN}?tab=gateways#x"), sub="bob"),
    Row("allowlisted referer below the page", from_page(f"{ADMIN}/gateways/7"), sub="bob"),
    Row("oauth callback referer", from_page(f"{GW}/oauth/callback?code=c&state=s"), sub="bob"),
    Row("default port spelled out", from_page("https://gw.example.com:443/admin"), sub="bob"),
    Row("host in upper case", from_page("https://GW.EXAMPLE.COM/admin"), sub="bob"),
    Row("administrator is not admin", from_page(f"{GW}/administrator"), status=401),
    Row("admin-x is not admin", from_page(f"{GW}/admin-x"), status=401),
    Row("callbackevil is not callback", from_page(f"{GW}/oauth/callbackevil"), status=401),
    Row("admin in the query", from_page(f"{GW}/api?next=/admin"), status=401),
    Row("admin in the fragment", from_page(f"{GW}/api#/admin"), status=401),
    Row("dot segments", from_page(f"{GW}/admin/../api"), status=401),
    Row("encoded slash", from_page(f"{GW}/admin%2F.."), status=401),
    Row("encoded dot", from_page(f"{GW}/admin/%2e%2e/api"), status=401),
    Row("backslash", from_page(f"{GW}/admin\\..\\api"), status=401),
    Row("path case differs", from_page(f"{GW}/ADMIN"), status=401),
    Row("look-alike host suffix GET", from_page("https://gw.example.com.evil.com/admin"), status=401),
    Row("look-alike host suffix POST", from_page("https://gw.example.com.evil.com/admin"), method="POST", status=403),
    Row("userinfo host GET", from_page("https://gw.example.com@evil.com/admin"), status=401),
    Row("userinfo host POST", from_page("https://gw@evil.com/admin"), method="POST", status=403),
    Row("other port", from_page("https://gw.example.com:8443/admin"), status=401),
    Row("other scheme", from_page("http://gw.example.com/admin"), status=401),
    Row("unparsable referer", from_page("https://gw.example.com:99999/admin"), status=401),
    Row("foreign origin on POST", from_page(ADMIN, B, ("origin", "https://evil.example")), method="POST", status=403),
    Row("null origin on POST", from_page(ADMIN, B, ("origin", "null")), method="POST", status=403),
    Row("cross-site fetch on POST", from_page(ADMIN, B, ("sec-fetch-site", "cross-site")), method="POST", status=403),
    Row("same-site fetch on POST", from_page(ADMIN, B, ("sec-fetch-site", "same-site")), method="POST", status=403),
    Row("cross-site on PUT", from_page(ADMIN, B, ("sec-fetch-site", "cross-site")), method="PUT", status=403),
    Row("cross-site on PATCH", from_page(ADMIN, B, ("origin", "https://evil.example")), method="PATCH", status=403),
    Row("cross-site on DELETE", from_page(ADMIN, B, ("origin", "null")), method="DELETE", status=403),
    Row("foreign origin on GET ignores cookie", from_page(ADMIN, B, ("origin", "https://evil.example")), status=401),
    Row(
        "same-origin POST from allowlisted page",
        from_page(ADMIN, B, ("origin", GW), SAME, ("accept", "application/json")),
        method="POST",
        sub="bob",
    ),
    Row(
        "idp redirect navigation to callback",
        [
            ("cookie", f"jwt_token={B}"),
            *NAVIGATE,
            ("sec-fetch-site", "cross-site"),
            ("referer", "https://idp.example/"),
        ],
        path="/oauth/callback",
        sub="bob",
    ),
    Row(
        "framed callback never counts",
        [
            ("cookie", f"jwt_token={B}"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "iframe"),
            ("sec-fetch-site", "cross-site"),
        ],
        path="/oauth/callback",
        status=401,
    ),
    Row(
        "navigation POST from another site",
        [("cookie", f"jwt_token={B}"), *NAVIGATE, ("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")],
        path="/oauth/callback",
        method="POST",
        status=403,
    ),
    Row(
        "navigation to a page not allowlisted",
        [("cookie", f"jwt_token={B}"), *NAVIGATE, ("sec-fetch-site", "none")],
        path="/api/tools",
        status=401,
    ),
    Row(
        "html navigation without fetch metadata",
        [("cookie", f"jwt_token={B}"), ("accept", "text/html")],
        path="/admin",
        sub="bob",
    ),
    Row("accept html alone elsewhere", [("cookie", f"jwt_token={B}"), ("accept", "text/html,*/*")], status=401),
    Row("cookie with no browser signal (curl)", [("cookie", f"jwt_token={B}")], status=401),
    Row(
        "header from a foreign origin is unaffected",
        [*bearer(A), ("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")],
        method="POST",
        sub="alice",
    ),
    Row(
        "public origin behind a proxy",
        from_page("https://public.example.com/admin", B, SAME),
        sub="bob",
        options={"public_origin": "https://public.example.com"},
    ),
    Row(
        "request host no longer counts with a public origin",
        from_page(ADMIN, B, SAME),
        status=401,
        options={"public_origin": "https://public.example.com"},
    ),
    Row(
        "trusted origin",
        from_page("https://console.example.com/admin", B, ("origin", "https://console.example.com")),
        method="POST",
        sub="bob",
        options={"trusted_origins": "https://console.example.com"},
    ),
]

COOKIES = [
    Row("duplicate cookies", from_page(ADMIN, f"{B}; jwt_token={A}"), status=400),
    Row("duplicate cookies reversed", from_page(ADMIN, f"{A}; jwt_token={B}"), status=400),
    Row("empty duplicate", from_page(ADMIN, f"; jwt_token={B}"), status=400),
    Row("split cookie headers, one token", [("cookie", "theme=dark"), *from_page(ADMIN)], sub="bob"),
    Row("split cookie headers, two tokens", [("cookie", f"jwt_token={A}"), *from_page(ADMIN)], status=400),
    Row("quoted value", from_page(ADMIN, f'"{B}"'), sub="bob"),
    Row("quoted value with escapes", from_page(ADMIN, f'"{B}\\"x"'), status=400),
    Row("look-alike prefix name", [("cookie", f"xjwt_token={B}"), ("referer", ADMIN)], status=401),
    Row("look-alike suffix name", [("cookie", f"jwt_token2={B}"), ("referer", ADMIN)], status=401),
    Row("name case differs", [("cookie", f"JWT_TOKEN={B}"), ("referer", ADMIN)], status=401),
    Row("emptied cookie after logout", [("cookie", "jwt_token="), ("referer", ADMIN)], status=401),
]


def _nested_header_token() -> str:
    return b64url(b'{"alg":"HS256","x":' + b"[" * 3000 + b"]" * 3000 + b"}") + "." + b64url(b"{}") + ".sig"


JWTS = [
    Row("alg none", bearer(unsigned({"alg": "none"}, claims())), status=401),
    Row("alg None", bearer(unsigned({"alg": "None"}, claims())), status=401),
    Row("alg missing", bearer(forge({"typ": "JWT"}, claims())), status=401),
    Row("alg not configured", bearer(token(algorithm="HS512")), status=401),
    Row(
        "key confusion: HS256 with the RSA public key",
        bearer(forge({"alg": "HS256"}, claims(), public_pem(rsa_key()))),
        status=401,
        options={"jwt_secret": None, "jwt_public_key": public_pem(rsa_key()), "jwt_algorithms": "RS256"},
    ),
    Row("RS256 token at an HS256 deployment", bearer(token(key=rsa_key(), algorithm="RS256")), status=401),
    Row("signed by another key", bearer(token(key=OTHER_SECRET)), status=401),
    Row("expired", bearer(token(exp=NOW - 3600)), status=401),
    Row("missing exp", bearer(token(exp=...)), status=401),
    Row("exp as list", bearer(forge({"alg": "HS256"}, {**claims(), "exp": [NOW + 60]})), status=401),
    Row("exp as object", bearer(forge({"alg": "HS256"}, {**claims(), "exp": {"v": NOW + 60}})), status=401),
    Row("exp as null", bearer(forge({"alg": "HS256"}, {**claims(), "exp": None})), status=401),
    Row("exp as numeric string", bearer(forge({"alg": "HS256"}, {**claims(), "exp": str(NOW + 60)})), status=401),
    Row("iat malformed", bearer(forge({"alg": "HS256"}, {**claims(), "iat": "now"})), status=401),
    Row("iat missing is fine", bearer(token(iat=...)), sub="alice"),
    Row("missing sub", bearer(forge({"alg": "HS256"}, {k: v for k, v in claims().items() if k != "sub"})), status=401),
    Row("sub as number", bearer(forge({"alg": "HS256"}, {**claims(), "sub": 7})), status=401),
    Row("deeply nested header", bearer(_nested_header_token()), status=401),
    Row("iss superstring", bearer(token(iss=ISSUER + ".evil.com")), status=401, options={"jwt_issuer": ISSUER}),
    Row("iss substring", bearer(token(iss=ISSUER[:-3])), status=401, options={"jwt_issuer": ISSUER}),
    Row(
        "iss as list",
        bearer(forge({"alg": "HS256"}, {**claims(), "iss": [ISSUER]})),
        status=401,
        options={"jwt_issuer": ISSUER},
    ),
    Row("iss exact", bearer(token(iss=ISSUER)), sub="alice", options={"jwt_issuer": ISSUER}),
    Row("wrong aud", bearer(token(aud="https://other.example/mcp")), status=401),
    Row("missing aud", bearer(token(aud=...)), status=401),
    Row("aud list containing ours", bearer(token(aud=["https://x", AUDIENCE])), sub="alice"),
    Row("crit header", bearer(token(headers={"crit": ["b64"], "b64": False})), status=401),
    Row(
        "kid path traversal is ignored for a static key",
        bearer(token(headers={"kid": "../../../etc/passwd"})),
        sub="alice",
    ),
    Row("non-string kid", bearer(forge({"alg": "HS256", "kid": 5}, claims())), status=401),
    Row(
        "jku pointing elsewhere is ignored",
        bearer(forge({"alg": "HS256", "jku": "https://evil/jwks"}, claims(), OTHER_SECRET)),
        status=401,
    ),
    Row("x5u pointing elsewhere is ignored", bearer(token(headers={"x5u": "https://evil/cert"})), sub="alice"),
    Row("garbage", bearer("abc"), status=401),
    Row("garbage with dots", bearer("...."), status=401),
    Row("non-ascii token", [("authorization", "Bearer tök.én.x")], status=400),
]


async def _false(conn: Any) -> AuthResult:
    return AuthResult(authenticated=False, error="nope")


async def _string_false(conn: Any) -> dict[str, str]:
    return {"authenticated": "false"}


async def _truthy(conn: Any) -> object:
    return object()


async def _success(conn: Any) -> AuthResult:
    return AuthResult(authenticated=True, principal=Principal(subject="svc"))


async def _raises(conn: Any) -> None:
    raise RuntimeError("secret connection string")


CUSTOM = [
    Row("custom: authenticated false", status=401, options={"authenticate": _false}),
    Row("custom: authenticated 'false'", status=401, options={"authenticate": _string_false}),
    Row("custom: truthy object", status=401, options={"authenticate": _truthy}),
    Row("custom: explicit success", sub="svc", options={"authenticate": _success}),
    Row("custom: unexpected exception", status=500, options={"authenticate": _raises}),
]

ROWS = CREDENTIALS + PATHS + BROWSER + COOKIES + JWTS + CUSTOM


def _middleware(row: Row, app: Any) -> Any:
    options = dict(row.options)
    authenticate = options.pop("authenticate", None)
    return protect(app, settings(**options), authenticate=authenticate)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_adversarial_request_has_its_expected_outcome(row: Row) -> None:
    seen: list[str | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        principal = principal_from(scope)
        seen.append(principal.subject if principal else None)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": row.body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": row.method,
        "path": row.path,
        "scheme": "https",
        "query_string": b"",
        "headers": [(b"host", b"gw.example.com")]
        + [(name.encode(), value.encode("utf-8")) for name, value in row.headers],
    }
    await _middleware(row, app)(scope, receive, send)

    status = sent[0]["status"]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert status == row.status, body
    assert seen == ([row.sub] if row.called else [])
    assert b"Traceback" not in body
    assert b"secret connection string" not in body
    assert A.encode() not in body
    assert B.encode() not in body


def test_matrix_has_at_least_eighty_rows() -> None:
    assert len(ROWS) >= 80


# --- the example gateway as a whole ------------------------------------------------------------


def _example_paths() -> list[tuple[str, str]]:
    from starlette.routing import Mount, Route

    from examples.fastapi_app.main import create_app

    app = create_app(settings())
    public = set(app.state.settings.public_paths)
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            path = route.path.replace("{gateway_id}", "local")
            for method in sorted(route.methods or {"GET"}):
                if path not in public and method != "HEAD":
                    found.append((method, path))
        elif isinstance(route, Mount) and route.path == "/mcp":
            found += [("POST", "/mcp/"), ("GET", "/mcp/"), ("DELETE", "/mcp/")]
    return found


@pytest.mark.parametrize(("method", "path"), _example_paths())
def test_no_route_of_the_example_gateway_answers_without_credentials(method: str, path: str) -> None:
    """Regression for sessions handed out by an endpoint that never authenticated."""
    from starlette.testclient import TestClient

    from examples.fastapi_app.main import create_app

    with TestClient(create_app(settings()), base_url=GW, follow_redirects=False) as http:
        response = http.request(method, path, headers=MCP_HEADERS, json=INITIALIZE)

    assert response.status_code in (401, 303)  # 303: a page navigation is sent to the login form
    assert "mcp-session-id" not in response.headers


def test_mcp_session_reuse_across_identities_is_refused_as_an_unknown_session() -> None:
    from starlette.testclient import TestClient

    from examples.fastapi_app.main import create_app

    alice = token("alice", roles=["developer"])
    bob = token("bob", roles=["developer"])
    with TestClient(create_app(settings()), base_url=GW) as http:
        opened = http.post("/mcp/", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {alice}"})
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        as_bob = http.post(
            "/mcp/", json=listing, headers={**MCP_HEADERS, "Authorization": f"Bearer {bob}", "mcp-session-id": session}
        )
        unknown = http.post(
            "/mcp/", json=listing, headers={**MCP_HEADERS, "Authorization": f"Bearer {bob}", "mcp-session-id": "nope"}
        )
        as_alice = http.post(
            "/mcp/",
            json=listing,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {alice}", "mcp-session-id": session},
        )

    assert as_bob.status_code == unknown.status_code == 404
    assert as_bob.json() == unknown.json()
    assert as_alice.status_code == 200
