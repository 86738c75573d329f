"""Prometheus metrics: real requests through the middleware, read back from a real
`CollectorRegistry` as a scrape would see them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from apps import INITIALIZE, MCP_HEADERS, RecordingApp, client, raw_scope
from live_server import LiveServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tokens import AUDIENCE, settings, token

from asgi_mcp_auth import Authenticator, AuthResult, AuthSettings, ConfigurationError, MCPAuthMiddleware, Revocation
from asgi_mcp_auth.core.stats import OUTCOMES, REASONS, REVOCATION_KINDS, VERIFIER_KINDS
from asgi_mcp_auth.integrations.metrics import PrometheusMetrics
from asgi_mcp_auth.testing import JWKSServer, TokenFactory

pytestmark = pytest.mark.anyio


class Watched:
    """A protected app with its own registry, and the value of a sample as a scrape shows it."""

    def __init__(self, config: AuthSettings | None = None, *, namespace: str = "mcp_auth", **options: Any) -> None:
        self.authenticator = Authenticator.from_settings(config or settings(), **options)
        self.app = MCPAuthMiddleware(RecordingApp(), authenticator=self.authenticator)
        self.registry = CollectorRegistry()
        self.namespace = namespace
        self.metrics = PrometheusMetrics(self.app, registry=self.registry, namespace=namespace)

    def value(self, name: str, **labels: str) -> float:
        found = self.registry.get_sample_value(f"{self.namespace}_{name}", labels)
        assert found is not None, f"no sample {name}{labels}"
        return found

    def decisions(self, outcome: str, reason: str = "none") -> float:
        return self.value("decisions_total", outcome=outcome, reason=reason)


async def get(app: Watched, path: str = "/tools", bearer: str | None = None, **headers: str) -> int:
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    async with client(app.app) as http:
        return (await http.get(path, headers=headers)).status_code


# --------------------------------------------------------------------------- decisions


async def test_an_authenticated_request_and_a_public_one_are_counted_by_outcome() -> None:
    watched = Watched()
    assert await get(watched, bearer=token("alice")) == 200
    assert await get(watched, "/health") == 200
    assert watched.decisions("authenticated") == 1
    assert watched.decisions("public") == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "credentials_missing"),
        ({"Authorization": "Basic YWxpY2U6cHc="}, "unsupported_scheme"),
        ({"Authorization": f"Bearer {token('alice', exp=int(time.time()) - 120)}"}, "token_expired"),
        ({"Authorization": f"Bearer {token('alice', aud='https://elsewhere.example.com')}"}, "not_for_this_resource"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
    ],
    ids=["no-credential", "basic", "expired", "other-audience", "garbage"],
)
async def test_a_refused_request_is_counted_as_refused_with_its_reason(headers: dict[str, str], reason: str) -> None:
    watched = Watched()
    assert watched.decisions("refused", reason) == 0  # present before the first refusal: rates work
    assert await get(watched, **headers) == 401
    assert watched.decisions("refused", reason) == 1
    assert watched.decisions("authenticated") == 0


async def test_an_mcp_call_without_the_permission_is_counted_as_forbidden() -> None:
    watched = Watched()
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "rm", "arguments": {}}}
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', roles=['viewer'])}"}
    async with client(watched.app) as http:
        assert (await http.post("/mcp", json=INITIALIZE, headers=headers)).status_code == 200
        assert (await http.post("/mcp", json=call, headers=headers)).status_code == 403
    assert watched.decisions("forbidden", "permission_denied") == 1
    assert watched.decisions("authenticated") == 1


async def test_an_exception_while_authenticating_is_counted_as_an_error() -> None:
    async def broken(conn: object) -> object:
        raise RuntimeError("the user store is down")

    watched = Watched(authenticate=broken)
    assert await get(watched) == 500
    assert watched.decisions("error", "internal_error") == 1


# --------------------------------------------------------------------------- cache and latency


async def test_a_known_token_is_a_cache_hit_and_is_not_verified_again() -> None:
    watched = Watched()
    alice = token("alice")
    for _ in range(3):
        assert await get(watched, bearer=alice) == 200
    assert watched.value("token_cache_misses_total") == 1
    assert watched.value("token_cache_hits_total") == 2
    assert watched.value("token_cache_size") == 1
    assert watched.value("verification_duration_seconds_count", verifier="jwt") == 1
    assert watched.value("verification_duration_seconds_sum", verifier="jwt") > 0
    assert watched.value("verification_duration_seconds_bucket", verifier="jwt", le="+Inf") == 1


async def test_a_token_pushed_out_of_a_full_cache_is_counted_as_an_eviction() -> None:
    watched = Watched(settings(token_cache_size=1))
    assert await get(watched, bearer=token("alice")) == 200
    assert watched.value("token_cache_evictions_total") == 0
    assert await get(watched, bearer=token("bob")) == 200
    assert watched.value("token_cache_evictions_total") == 1
    assert watched.value("token_cache_size") == 1
    assert watched.value("token_cache_capacity") == 1


# --------------------------------------------------------------------------- JWKS


async def test_jwks_fetches_against_a_real_jwks_server_are_counted(
    mcp_auth_jwks: JWKSServer, mcp_auth_settings: AuthSettings, mcp_auth_tokens: TokenFactory
) -> None:
    watched = Watched(mcp_auth_settings)
    assert watched.value("jwks_fetches_total") == 0
    assert await get(watched, bearer=mcp_auth_tokens.make_token("alice")) == 200
    assert await get(watched, bearer=mcp_auth_tokens.make_token("bob")) == 200
    assert mcp_auth_jwks.requests == 1
    assert watched.value("jwks_fetches_total") == 1
    assert watched.value("jwks_fetch_failures_total") == 0
    assert watched.value("verification_duration_seconds_count", verifier="jwks") == 2


async def test_a_failed_jwks_fetch_is_counted_as_a_failure(mcp_auth_tokens: TokenFactory) -> None:
    with JWKSServer() as stopped:
        url = stopped.url
    config = AuthSettings(
        jwks_url=url, jwt_algorithms=["RS256"], jwt_audience=mcp_auth_tokens.audience, jwt_issuer=mcp_auth_tokens.issuer
    )
    watched = Watched(config)
    assert await get(watched, bearer=mcp_auth_tokens.make_token("alice")) == 401
    assert watched.value("jwks_fetches_total") == 1
    assert watched.value("jwks_fetch_failures_total") == 1
    assert watched.decisions("refused", "unknown_signing_key") == 1


# --------------------------------------------------------------------------- introspection


@pytest.fixture(scope="module")
def introspection_url() -> Iterator[str]:
    async def introspect(request: Request) -> Response:
        form = await request.form()
        if form.get("token") == "opaque-good":
            answer = {"active": True, "sub": "svc", "aud": AUDIENCE, "exp": int(time.time()) + 600}
            return JSONResponse(answer)
        return JSONResponse({"active": False})

    async def broken(request: Request) -> Response:
        return JSONResponse({"error": "server_error"}, status_code=500)

    app = Starlette(
        routes=[Route("/introspect", introspect, methods=["POST"]), Route("/broken", broken, methods=["POST"])]
    )
    with LiveServer(app) as base_url:
        yield base_url


async def test_introspection_requests_and_an_outage_are_counted(introspection_url: str) -> None:
    watched = Watched(settings(jwt_secret=None, introspection_url=f"{introspection_url}/introspect"))
    assert await get(watched, bearer="opaque-good") == 200
    assert await get(watched, bearer="opaque-good") == 200  # cached: no second request
    assert await get(watched, bearer="opaque-unknown") == 401
    assert watched.value("introspection_requests_total") == 2
    assert watched.value("introspection_failures_total") == 0
    assert watched.value("verification_duration_seconds_count", verifier="introspection") == 2

    outage = Watched(settings(jwt_secret=None, introspection_url=f"{introspection_url}/broken"))
    assert await get(outage, bearer="opaque-good") == 503
    assert outage.value("introspection_requests_total") == 1
    assert outage.value("introspection_failures_total") == 1
    assert outage.decisions("error", "unavailable") == 1


# --------------------------------------------------------------------------- revocation


async def test_revocations_by_kind_and_the_refusals_of_revoked_tokens_are_counted() -> None:
    watched = Watched()
    alice = token("alice", jti="alice-1")
    assert await get(watched, bearer=alice) == 200
    identity = await watched.authenticator.identify(raw_scope(headers=[("Authorization", f"Bearer {alice}")]))
    await watched.authenticator.revoke(identity)
    await watched.authenticator.revoke(Revocation.of_subject("bob"))
    await watched.authenticator.revoke(Revocation.of_client("ci-bot"))
    assert await get(watched, bearer=alice) == 401
    assert await get(watched, bearer=token("bob")) == 401
    assert watched.value("revocations_total", kind="token") == 1
    assert watched.value("revocations_total", kind="subject") == 1
    assert watched.value("revocations_total", kind="client") == 1
    assert watched.value("revoked_refusals_total") == 2
    assert watched.decisions("refused", "token_revoked") == 2
    assert watched.value("revocation_store_size") == 3


# --------------------------------------------------------------------------- labels


async def test_no_label_holds_a_subject_a_token_a_client_id_a_path_or_a_message() -> None:
    watched = Watched()
    secrets: list[str] = []

    def secret(prefix: str) -> str:
        value = f"{prefix}-{uuid.uuid4().hex}"
        secrets.append(value)
        return value

    async def custom(conn: object) -> AuthResult:
        return AuthResult(authenticated=False, error=secret("custom-error"))

    custom_app = Watched(authenticate=custom, namespace="tenant_b")
    async with client(watched.app) as http, client(custom_app.app) as custom_http:
        for _ in range(20):
            alice = token(secret("subject"), client_id=secret("client"), roles=["viewer"])
            secrets.append(alice)
            path = "/" + secret("path")
            await http.get(path, headers={"Authorization": f"Bearer {alice}"})
            await http.get(path, headers={"Authorization": f"Bearer {secret('garbage')}"})
            await http.get(
                path, headers={"Authorization": f"Bearer {token(secret('late'), exp=int(time.time()) - 90)}"}
            )
            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": secret("tool")}}
            await http.post("/mcp", json=call, headers={**MCP_HEADERS, "Authorization": f"Bearer {alice}"})
            await custom_http.get(path)
        await watched.authenticator.revoke(Revocation.of_subject(secret("revoked-subject")))
        await watched.authenticator.revoke(Revocation.of_client(secret("revoked-client")))

    text = generate_latest(watched.registry).decode() + generate_latest(custom_app.registry).decode()
    assert not [value for value in secrets if value in text]
    vocabulary = {"outcome": set(OUTCOMES), "reason": set(REASONS), "verifier": set(VERIFIER_KINDS)}
    vocabulary["kind"] = set(REVOCATION_KINDS)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, value in sample.labels.items():
                if name == "le":
                    assert value == "+Inf" or float(value) > 0
                else:
                    assert value in vocabulary[name], (family.name, name, value)
    assert custom_app.decisions("refused", "authentication_failed") == 20
    assert watched.decisions("forbidden", "permission_denied") == 20


# --------------------------------------------------------------------------- registration


async def test_two_authenticators_in_one_registry_need_two_namespaces() -> None:
    registry = CollectorRegistry()
    first = Watched()
    PrometheusMetrics(first.authenticator, registry=registry)
    with pytest.raises(ValueError, match="Duplicated"):
        PrometheusMetrics(Watched().authenticator, registry=registry)
    PrometheusMetrics(Watched().authenticator, registry=registry, namespace="tenant_b")
    assert registry.get_sample_value("tenant_b_decisions_total", {"outcome": "public", "reason": "none"}) == 0


def test_a_namespace_that_is_not_a_metric_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="metric name"):
        Watched(namespace="mcp-auth")


async def test_unregister_removes_the_metrics_from_the_registry() -> None:
    watched = Watched()
    watched.metrics.unregister()
    assert (
        watched.registry.get_sample_value("mcp_auth_decisions_total", {"outcome": "public", "reason": "none"}) is None
    )
