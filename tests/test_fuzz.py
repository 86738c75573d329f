"""Property tests over generated requests: never a 500, never a forged identity, one identity.

`make test` runs a small profile; `make fuzz` runs at least 10 000 examples per property.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from apps import protect, raw_scope
from hypothesis import given
from hypothesis import strategies as st
from tokens import AUDIENCE, OTHER_SECRET, SECRET, claims, forge, token

from asgi_mcp_auth import Authenticator, AuthError, Principal, principal_from, resolve_principal

pytestmark = pytest.mark.anyio

VALID = [token("alice", roles=["admin"]), token("bob", roles=["viewer"]), token("carol", scope="tools.read")]


def _independently_verified(raw: str) -> dict[str, Any] | None:
    """The oracle: PyJWT with our key and strict options, outside the package."""
    try:
        decoded: dict[str, Any] = jwt.decode(
            raw, SECRET, algorithms=["HS256"], audience=AUDIENCE, options={"require": ["exp", "sub"]}, leeway=30
        )
    except Exception:
        return None
    return decoded


def _mutate(raw: str, position: int, char: str) -> str:
    position %= len(raw)
    return raw[:position] + char + raw[position + 1 :]


tokens = st.one_of(
    st.sampled_from(VALID),
    st.builds(_mutate, st.sampled_from(VALID), st.integers(0, 400), st.sampled_from("aZ09-_.=+/ ")),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.text(alphabet="abcXYZ0123456789-_.", max_size=80),
    st.builds(
        lambda sub, key, alg: jwt.encode(claims(sub), key, algorithm=alg),
        st.sampled_from(["alice", "mallory", ""]),
        st.sampled_from([SECRET, OTHER_SECRET]),
        st.sampled_from(["HS256", "HS384"]),
    ),
    st.builds(
        lambda extra, key: forge({"alg": "HS256"}, {**claims("mallory"), **extra}, key),
        st.dictionaries(
            st.sampled_from(["exp", "aud", "roles", "iss", "nbf", "sub", "scope", "team_roles"]),
            st.none() | st.integers() | st.text(max_size=8) | st.lists(st.text(max_size=4), max_size=2),
        ),
        st.sampled_from([SECRET, OTHER_SECRET]),
    ),
)

header_values = st.one_of(
    tokens.map(lambda t: f"Bearer {t}"),
    tokens,
    st.sampled_from(["Basic abc", "Bearer", "bearer  ", "Bearer a b", ""]),
)
cookie_values = st.one_of(
    tokens.map(lambda t: f"jwt_token={t}"),
    st.lists(tokens, min_size=1, max_size=3).map(lambda ts: "; ".join(f"jwt_token={t}" for t in ts)),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "replace").decode("latin-1")),
)
origins = st.sampled_from(["https://gw.example.com", "https://evil.example", "null", "http://gw.example.com:8080"])
referers = st.one_of(
    origins.flatmap(
        lambda o: st.sampled_from(["/admin", "/oauth/callback?x=1", "/administrator", "/admin/../x", ""]).map(
            lambda p: o + p
        )
    ),
    st.text(max_size=40),
)

header_pairs = st.lists(
    st.one_of(
        st.tuples(st.just("authorization"), header_values),
        st.tuples(st.just("cookie"), cookie_values),
        st.tuples(st.just("referer"), referers),
        st.tuples(st.just("origin"), origins),
        st.tuples(st.just("sec-fetch-site"), st.sampled_from(["same-origin", "same-site", "cross-site", "none", "x"])),
        st.tuples(st.just("sec-fetch-mode"), st.sampled_from(["navigate", "cors", "no-cors"])),
        st.tuples(st.just("sec-fetch-dest"), st.sampled_from(["document", "iframe", "empty"])),
        st.tuples(st.just("accept"), st.sampled_from(["text/html", "application/json", "*/*"])),
        st.tuples(st.just("host"), st.sampled_from(["gw.example.com", "evil.example", ""])),
    ),
    max_size=7,
)

bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda method, name, rid: json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": {"name": name}}),
        st.sampled_from(["initialize", "tools/list", "tools/call", "resources/read", "ping", "notifications/x"]),
        st.text(max_size=10),
        st.none() | st.integers() | st.text(max_size=5),
    ).map(str.encode),
)


async def _serve(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, Principal | None, Authenticator]:
    seen: list[Principal | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(principal_from(scope))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = protect(app)
    await middleware(raw_scope(method, path, headers), receive, send)
    return sent[0]["status"], (seen[0] if seen else None), middleware.authenticator


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]),
    path=st.sampled_from(["/mcp", "/mcp/", "/api/tools", "/admin", "/oauth/callback", "/health", "/MCP//x"]),
    headers=header_pairs,
    body=bodies,
)
async def test_generated_requests_never_give_500_forged_identities_or_two_identities(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    status, principal, authenticator = await _serve(method, path, headers, body)

    assert status != 500
    if principal is not None:
        presented = [value.removeprefix("Bearer ") for name, value in headers if name == "authorization"]
        presented += [
            part.strip().partition("=")[2] for name, value in headers if name == "cookie" for part in value.split(";")
        ]
        verified = [_independently_verified(raw) for raw in presented]
        assert dict(principal.claims) in verified, "accepted a token the key did not sign"

    fallback_status, fallback = await _fallback(method, path, headers, authenticator)
    if status == 200 or fallback_status != 200:
        assert (fallback_status, fallback) == (status, principal.subject if principal else None)
    else:
        assert status == 403  # a method permission refused the body, which the fallback never reads


async def _fallback(
    method: str, path: str, headers: list[tuple[str, str]], authenticator: Authenticator
) -> tuple[int, str | None]:
    try:
        principal = await resolve_principal(raw_scope(method, path, headers), authenticator=authenticator)
    except AuthError as error:
        return error.status_code, None
    return 200, principal.subject if principal else None
