"""Opaque tokens checked at a real RFC 7662 introspection endpoint (uvicorn on 127.0.0.1):
what is accepted, what is refused (401), what is an outage (503 + Retry-After), and how few
calls a flood of tokens costs the authorization server."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import TaskGroup
from apps import RecordingApp, client
from live_server import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tokens import AUDIENCE, ISSUER

from asgi_mcp_auth import AuthenticationError, AuthSettings, Credential, MCPAuthMiddleware, TokenSource
from asgi_mcp_auth.core.errors import ServiceUnavailable
from asgi_mcp_auth.credentials.introspection import IntrospectionVerifier

pytestmark = pytest.mark.anyio

CLIENT_ID = "gateway"
CLIENT_SECRET = "introspection-secret-0123456789"


class AuthorizationServer:
    """An introspection endpoint that knows some tokens and counts every call."""

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.credentials: list[tuple[str, str]] = []
        self.released = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/introspect", self.introspect, methods=["POST"]),
                Route("/introspect-401", self.inactive_with_401, methods=["POST"]),
                Route("/broken", self.broken, methods=["POST"]),
                Route("/not-json", self.not_json, methods=["POST"]),
                Route("/held", self.held, methods=["POST"]),
            ]
        )

    def _client(self, request: Request, form: Any) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            name, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return name, secret
        return str(form.get("client_id", "")), str(form.get("client_secret", ""))

    async def introspect(self, request: Request) -> Response:
        self.calls += 1
        form = await request.form()
        self.credentials.append(self._client(request, form))
        if self.credentials[-1] != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(self.answers.get(str(form.get("token")), {"active": False}))

    async def inactive_with_401(self, request: Request) -> Response:
        self.calls += 1
        return JSONResponse({"active": False}, status_code=401)

    async def broken(self, request: Request) -> Response:
        self.calls += 1
        return JSONResponse({"error": "server_error"}, status_code=500)

    async def not_json(self, request: Request) -> Response:
        self.calls += 1
        return Response("<html>maintenance</html>", media_type="text/html")

    async def held(self, request: Request) -> Response:
        # Answers only when the test releases it: a concurrent flight is really concurrent.
        self.calls += 1
        form = await request.form()
        await anyio.to_thread.run_sync(self.released.wait)
        return JSONResponse(self.answers.get(str(form.get("token")), {"active": False}))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[AuthorizationServer, str]]:
    authorization_server = AuthorizationServer()
    with LiveServer(authorization_server.app) as base_url:
        yield authorization_server, base_url
        authorization_server.released.set()


@pytest.fixture
def auth_server(server: tuple[AuthorizationServer, str]) -> AuthorizationServer:
    authorization_server = server[0]
    authorization_server.answers.clear()
    authorization_server.calls = 0
    authorization_server.credentials.clear()
    authorization_server.released.clear()
    return authorization_server


@pytest.fixture
def base_url(server: tuple[AuthorizationServer, str]) -> str:
    return server[1]


def active(**extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "active": True,
        "sub": "alice",
        "client_id": "cli-1",
        "scope": "tools.read",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "exp": int(time.time()) + 600,
    }
    answer.update(extra)
    return {key: value for key, value in answer.items() if value is not ...}


def verifier(base_url: str, path: str = "/introspect", **options: Any) -> IntrospectionVerifier:
    values: dict[str, Any] = {
        "audience": AUDIENCE,
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timeout": 2.0,
    }
    values.update(options)
    return IntrospectionVerifier(base_url + path, **values)


def opaque(name: str) -> Credential:
    return Credential(f"opaque-{name}", TokenSource.HEADER)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
async def test_an_active_token_becomes_its_principal_and_the_server_sees_our_client_credentials(
    auth_server: AuthorizationServer, base_url: str, auth_method: Any
) -> None:
    auth_server.answers["opaque-a"] = active(scope="tools.read tools.execute")
    principal = await verifier(base_url, auth_method=auth_method).verify(opaque("a"))
    assert principal.subject == "alice"
    assert principal.client_id == "cli-1"
    assert principal.issuer == ISSUER
    assert principal.scopes == {"tools.read", "tools.execute"}
    assert auth_server.credentials == [(CLIENT_ID, CLIENT_SECRET)]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"active": False}, "Invalid token"),
        (active(active="true"), "Invalid token"),
        (active(active=1), "Invalid token"),
        (active(active=...), "Invalid token"),
        (active(aud="https://other.example.com/mcp"), "not accepted for this resource"),
        (active(aud=["https://other.example.com/mcp"]), "not accepted for this resource"),
        (active(aud=...), "not accepted for this resource"),
        (active(iss="https://evil.example.com"), "not accepted for this resource"),
        (active(exp=int(time.time()) - 5), "expired"),
        (active(exp="2999999999"), "Invalid token"),
        (active(scope="tools.read,tools.execute"), "Malformed scope"),
        (active(sub=..., client_id=..., username=...), "no subject"),
    ],
    ids=[
        "inactive",
        "active-string",
        "active-one",
        "active-missing",
        "other-audience",
        "other-audience-list",
        "no-audience",
        "other-issuer",
        "expired",
        "exp-string",
        "comma-scopes",
        "nobody",
    ],
)
async def test_a_token_the_answer_does_not_vouch_for_is_refused(
    auth_server: AuthorizationServer, base_url: str, answer: dict[str, Any], message: str
) -> None:
    auth_server.answers["opaque-x"] = answer
    with pytest.raises(AuthenticationError, match=message):
        await verifier(base_url).verify(opaque("x"))


@pytest.mark.parametrize(
    ("answer", "subject"),
    [
        (active(sub=..., username="bob"), "cli-1"),
        (active(sub=..., client_id=..., username="bob"), "bob"),
        (active(sub=...), "cli-1"),
    ],
    ids=["client-id-first", "username", "client-only"],
)
async def test_an_answer_without_sub_identifies_the_principal_by_client_id_then_username(
    auth_server: AuthorizationServer, base_url: str, answer: dict[str, Any], subject: str
) -> None:
    auth_server.answers["opaque-s"] = answer
    assert (await verifier(base_url).verify(opaque("s"))).subject == subject


async def test_an_inactive_token_answered_with_a_non_200_json_body_is_a_401_not_an_outage(
    auth_server: AuthorizationServer, base_url: str
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await verifier(base_url, "/introspect-401").verify(opaque("gone"))
    assert not isinstance(caught.value, ServiceUnavailable)


@pytest.mark.parametrize("path", ["/broken", "/not-json"])
async def test_a_broken_authorization_server_is_an_outage(
    auth_server: AuthorizationServer, base_url: str, path: str
) -> None:
    with pytest.raises(ServiceUnavailable):
        await verifier(base_url, path).verify(opaque("a"))


async def test_our_client_credentials_refused_by_the_server_are_an_outage_not_the_callers_fault(
    auth_server: AuthorizationServer, base_url: str
) -> None:
    with pytest.raises(ServiceUnavailable):
        await verifier(base_url, client_secret="wrong-secret-0123456789").verify(opaque("a"))


async def test_the_server_down_is_a_503_with_retry_after_and_the_app_is_not_called() -> None:
    settings = AuthSettings(
        jwt_audience=AUDIENCE,
        introspection_url=closed_port_url() + "/introspect",
        introspection_retry_after_seconds=7,
    )
    app = RecordingApp()
    async with client(MCPAuthMiddleware(app, settings=settings)) as http:
        response = await http.get("/whoami", headers={"Authorization": "Bearer opaque-a"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert "www-authenticate" not in response.headers
    assert "opaque-a" not in response.text
    assert app.calls == 0


async def test_a_slow_server_times_out_into_a_503_never_a_401(auth_server: AuthorizationServer, base_url: str) -> None:
    with pytest.raises(ServiceUnavailable):
        await verifier(base_url, "/held", timeout=0.5).verify(opaque("a"))


async def test_an_accepted_token_is_reused_and_a_refused_one_remembered(
    auth_server: AuthorizationServer, base_url: str
) -> None:
    auth_server.answers["opaque-a"] = active()
    checker = verifier(base_url)
    for _ in range(5):
        await checker.verify(opaque("a"))
        with pytest.raises(AuthenticationError):
            await checker.verify(opaque("garbage"))
    assert auth_server.calls == 2


async def test_the_cache_entry_ends_at_the_tokens_exp(auth_server: AuthorizationServer, base_url: str) -> None:
    now = [time.time()]
    auth_server.answers["opaque-a"] = active(exp=int(now[0]) + 60)
    checker = verifier(base_url, clock=lambda: now[0], cache_ttl=3600)
    await checker.verify(opaque("a"))
    now[0] += 61
    with pytest.raises(AuthenticationError, match="expired"):
        await checker.verify(opaque("a"))
    assert auth_server.calls == 2


async def _run_concurrently(count: int, job: Any, tg: TaskGroup) -> None:
    for number in range(count):
        tg.start_soon(job, number)


async def test_100_concurrent_requests_with_one_new_token_make_one_introspection_call(
    auth_server: AuthorizationServer, base_url: str
) -> None:
    auth_server.answers["opaque-new"] = active()
    settings = AuthSettings(
        jwt_audience=AUDIENCE,
        jwt_issuer=ISSUER,
        introspection_url=base_url + "/held",
        introspection_client_id=CLIENT_ID,
        introspection_client_secret=CLIENT_SECRET,
    )
    statuses: list[int] = []
    async with client(MCPAuthMiddleware(RecordingApp(), settings=settings)) as http:

        async def call(_: int) -> None:
            response = await http.get("/whoami", headers={"Authorization": "Bearer opaque-new"})
            statuses.append(response.status_code)

        async with anyio.create_task_group() as tg:
            await _run_concurrently(100, call, tg)
            await anyio.lowlevel.checkpoint()
            await anyio.wait_all_tasks_blocked()  # every request waits: one on the server, 99 on it
            auth_server.released.set()
    assert statuses == [200] * 100
    assert auth_server.calls == 1


async def test_1000_garbage_tokens_cost_the_authorization_server_a_handful_of_calls(
    auth_server: AuthorizationServer, base_url: str
) -> None:
    frozen = time.time()
    checker = verifier(base_url, clock=lambda: frozen, refusal_burst=5, max_concurrent=4)
    outcomes: list[type[Exception]] = []

    async def call(number: int) -> None:
        try:
            await checker.verify(opaque(f"garbage-{number}"))
        except (AuthenticationError, ServiceUnavailable) as error:
            outcomes.append(type(error))

    async with anyio.create_task_group() as tg:
        await _run_concurrently(1000, call, tg)
    assert len(outcomes) == 1000
    assert auth_server.calls <= 5 + 4
    assert set(outcomes) <= {AuthenticationError, ServiceUnavailable}


async def test_a_flood_of_one_garbage_token_makes_one_call(auth_server: AuthorizationServer, base_url: str) -> None:
    checker = verifier(base_url)

    async def call(_: int) -> None:
        with pytest.raises(AuthenticationError):
            await checker.verify(opaque("garbage"))

    async with anyio.create_task_group() as tg:
        await _run_concurrently(1000, call, tg)
    assert auth_server.calls == 1


async def test_accepted_tokens_do_not_spend_the_refusal_budget(auth_server: AuthorizationServer, base_url: str) -> None:
    frozen = time.time()
    checker = verifier(base_url, clock=lambda: frozen, refusal_burst=2)
    for number in range(20):
        auth_server.answers[f"opaque-{number}"] = active(sub=f"user-{number}")
        assert (await checker.verify(opaque(str(number)))).subject == f"user-{number}"


def test_no_jwt_key_is_needed_when_introspection_is_configured() -> None:
    settings = AuthSettings(jwt_audience=AUDIENCE, introspection_url="https://as.example.com/introspect")
    MCPAuthMiddleware(RecordingApp(), settings=settings)


def test_the_client_secret_never_appears_in_the_verifiers_repr(base_url: str) -> None:
    assert CLIENT_SECRET not in repr(verifier(base_url))
