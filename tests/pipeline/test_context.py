"""One request, one identity: middleware, scope, ContextVar and fallback agree (seed 000)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from apps import RecordingApp, client, protect, raw_scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import HTTPConnection
from tokens import token

from asgi_mcp_auth import (
    AuthError,
    Principal,
    current_principal,
    get_authenticator,
    principal_from,
    resolve_principal,
)
from asgi_mcp_auth.pipeline.context import PRINCIPAL_KEY

pytestmark = pytest.mark.anyio

ORIGIN = "https://gw.example.com"
ALICE = token("alice")
BOB = token("bob")


SEED_000_HEADERS = [
    ("Host", "gw.example.com"),
    ("Authorization", f"Bearer {ALICE}"),
    ("Cookie", f"jwt_token={BOB}"),
    ("Referer", f"{ORIGIN}/admin"),
    ("Origin", ORIGIN),
    ("Sec-Fetch-Site", "same-origin"),
]


async def test_seed_000_header_identity_wins_in_middleware_scope_contextvar_and_fallback() -> None:
    app = RecordingApp()
    middleware = protect(app)
    async with client(middleware) as http:
        response = await http.post("/mcp/", headers=dict(SEED_000_HEADERS), content=b"{}")

    assert response.status_code == 200
    assert response.json()["sub"] == "alice"
    assert response.json()["context_sub"] == "alice"
    assert response.json()["token_source"] == "header"

    # A scope the middleware never saw, as a stateful session's fallback would meet it.
    fallback = await resolve_principal(
        HTTPConnection(raw_scope("POST", "/mcp/", SEED_000_HEADERS)), authenticator=middleware.authenticator
    )
    assert fallback is not None
    assert fallback.subject == "alice"
    assert fallback.token_source.value == "header"


async def test_seed_000_invalid_header_never_falls_back_to_a_valid_cookie() -> None:
    headers = [
        (name, f"Bearer {ALICE[:-3]}xyz" if name == "Authorization" else value) for name, value in SEED_000_HEADERS
    ]
    app = RecordingApp()
    middleware = protect(app)
    async with client(middleware) as http:
        response = await http.get("/tools", headers=headers)

    assert response.status_code == 401
    assert app.calls == 0
    with pytest.raises(AuthError):
        await resolve_principal(raw_scope("GET", "/tools", headers), authenticator=middleware.authenticator)


async def test_resolve_principal_returns_the_principal_the_middleware_stored() -> None:
    stored = Principal(subject="carol")
    scope = raw_scope(headers=[("Authorization", f"Bearer {ALICE}")])
    scope[PRINCIPAL_KEY] = stored

    assert await resolve_principal(scope) is stored


async def test_resolve_principal_on_a_public_path_is_anonymous() -> None:
    middleware = protect(RecordingApp())

    assert await resolve_principal(raw_scope(path="/health"), authenticator=middleware.authenticator) is None


async def test_principal_from_reads_the_scope_of_that_request() -> None:
    scope = raw_scope()
    assert principal_from(scope) is None
    scope[PRINCIPAL_KEY] = Principal(subject="dave")

    principal = principal_from(HTTPConnection(scope))

    assert principal is not None
    assert principal.subject == "dave"


async def test_current_principal_is_none_outside_a_request() -> None:
    assert current_principal() is None


async def test_fallback_uses_the_authenticator_of_the_middleware_that_served_the_request() -> None:
    recorded: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        recorded.append(get_authenticator(scope))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    first = protect(app)
    second = protect(RecordingApp())  # built later: that makes it nothing special
    async with client(first) as http:
        await http.get("/health")

    assert recorded == [first.authenticator]
    assert second.authenticator is not first.authenticator


@pytest.mark.parametrize("order", [("first", "second"), ("second", "first")])
async def test_fallback_never_picks_the_last_built_middleware_for_a_request_none_saw_regression(
    order: tuple[str, str],
) -> None:
    middlewares = {"first": protect(RecordingApp()), "second": protect(RecordingApp())}
    for name in order:  # earlier requests, in either order, must not change the answer
        async with client(middlewares[name]) as http:
            await http.get("/tools", headers={"Authorization": f"Bearer {ALICE}"})
    unseen = raw_scope("GET", "/tools", [("Authorization", f"Bearer {BOB}")])

    with pytest.raises(RuntimeError, match=r"authenticator=") as raised:
        await resolve_principal(unseen)
    with pytest.raises(RuntimeError, match=r"authenticator="):
        get_authenticator(unseen)

    assert "went through the middleware" in str(raised.value)
    chosen = await resolve_principal(unseen, authenticator=middlewares["second"].authenticator)
    assert chosen is not None
    assert chosen.subject == "bob"


def test_fallback_with_exactly_one_authenticator_in_the_process_uses_it() -> None:
    # A fresh interpreter: this test process holds many authenticators from other tests.
    program = """
import asyncio
from apps import RecordingApp, protect, raw_scope
from tokens import token
from asgi_mcp_auth import get_authenticator, resolve_principal

middleware = protect(RecordingApp())
scope = raw_scope("GET", "/tools", [("Authorization", "Bearer " + token("alice"))])
assert get_authenticator() is middleware.authenticator
principal = asyncio.run(resolve_principal(scope))
print(principal.subject)
"""
    tests = Path(__file__).resolve().parents[1]
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", program],
        cwd=tests,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), str(tests.parent)])},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice"


HEADER_CHOICES = [
    None,
    f"Bearer {ALICE}",
    "Bearer not.valid.token",
    f"bearer {ALICE}",
    "Basic abc",
    f"Bearer {ALICE} x",
]
COOKIE_CHOICES = [None, f"jwt_token={BOB}", "jwt_token=garbage", f"jwt_token={BOB}; jwt_token={ALICE}", "jwt_token="]
REFERER_CHOICES = [
    None,
    f"{ORIGIN}/admin",
    f"{ORIGIN}/oauth/callback?code=1",
    f"{ORIGIN}/administrator",
    "https://evil.example/admin",
]
ORIGIN_CHOICES = [None, ORIGIN, "https://evil.example", "null"]
SITE_CHOICES = [None, "same-origin", "same-site", "cross-site", "none"]


def _outcome_of(principal: Principal | None) -> tuple[int, str | None, str | None]:
    return (200, principal.subject if principal else None, principal.token_source.value if principal else None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "HEAD"]),
    path=st.sampled_from(["/tools", "/mcp/", "/admin", "/oauth/callback", "/health"]),
    header=st.sampled_from(HEADER_CHOICES),
    cookie=st.sampled_from(COOKIE_CHOICES),
    referer=st.sampled_from(REFERER_CHOICES),
    origin=st.sampled_from(ORIGIN_CHOICES),
    site=st.sampled_from(SITE_CHOICES),
    navigate=st.booleans(),
)
async def test_middleware_and_fallback_always_agree(
    method: str,
    path: str,
    header: str | None,
    cookie: str | None,
    referer: str | None,
    origin: str | None,
    site: str | None,
    navigate: bool,
) -> None:
    headers = [("Host", "gw.example.com")]
    for name, value in (
        ("Authorization", header),
        ("Cookie", cookie),
        ("Referer", referer),
        ("Origin", origin),
        ("Sec-Fetch-Site", site),
    ):
        if value is not None:
            headers.append((name, value))
    if navigate:
        headers += [("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document")]

    seen: list[tuple[int, str | None, str | None]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(_outcome_of(principal_from(scope)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = protect(app)
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    await middleware(raw_scope(method, path, headers), receive, send)
    status = sent[0]["status"]
    middleware_outcome = seen[0] if seen else (status, None, None)

    try:
        fallback_outcome = _outcome_of(
            await resolve_principal(raw_scope(method, path, headers), authenticator=middleware.authenticator)
        )
    except AuthError as error:
        fallback_outcome = (error.status_code, None, None)

    assert middleware_outcome == fallback_outcome
    assert status != 500
