"""`metrics_route`: the Prometheus exposition behind the middleware, for whom may read it."""

from __future__ import annotations

import pytest
from apps import client
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from tokens import bearer, settings

from asgi_mcp_auth import Authenticator, AuthSettings, ConfigurationError, MCPAuthMiddleware
from asgi_mcp_auth.integrations.metrics import METRICS_PERMISSION, PrometheusMetrics, metrics_route

pytestmark = pytest.mark.anyio


def gateway(config: AuthSettings | None = None, *, permission: str | None = METRICS_PERMISSION) -> Starlette:
    authenticator = Authenticator.from_settings(config or settings())
    registry = CollectorRegistry()
    PrometheusMetrics(authenticator, registry=registry)
    return Starlette(
        routes=[metrics_route(registry, permission=permission)],
        middleware=[Middleware(MCPAuthMiddleware, authenticator=authenticator)],
    )


async def test_an_admin_reads_the_metrics_in_the_prometheus_text_format() -> None:
    async with client(gateway()) as http:
        response = await http.get("/metrics", headers=bearer(roles=["admin"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    assert 'mcp_auth_decisions_total{outcome="authenticated",reason="none"} 1.0' in response.text


async def test_a_scraper_asking_for_openmetrics_gets_openmetrics() -> None:
    async with client(gateway()) as http:
        accept = "application/openmetrics-text; version=1.0.0"
        response = await http.get("/metrics", headers={**bearer(roles=["admin"]), "Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_an_anonymous_request_gets_401_with_a_bearer_challenge() -> None:
    async with client(gateway()) as http:
        response = await http.get("/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "mcp_auth" not in response.text


async def test_a_principal_without_metrics_read_gets_403_naming_the_permission() -> None:
    async with client(gateway()) as http:
        response = await http.get("/metrics", headers=bearer(roles=["developer"]))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="metrics.read"' in response.headers["www-authenticate"]


async def test_a_role_granting_metrics_read_is_enough() -> None:
    policy = '{"roles": {"scraper": ["metrics.read"]}}'
    async with client(gateway(settings(rbac_policy=policy))) as http:
        response = await http.get("/metrics", headers=bearer(roles=["scraper"]))
    assert response.status_code == 200


async def test_public_metrics_need_both_the_opt_out_and_a_public_path() -> None:
    async with client(gateway(permission=None)) as http:
        assert (await http.get("/metrics")).status_code == 401  # still behind the middleware
        assert (await http.get("/metrics", headers=bearer(roles=["viewer"]))).status_code == 200
    public = settings(public_paths=["/health", "/metrics"])
    async with client(gateway(public, permission=None)) as http:
        assert (await http.get("/metrics")).status_code == 200


async def test_a_protected_route_not_behind_the_middleware_refuses_everyone() -> None:
    registry = CollectorRegistry()
    app = Starlette(routes=[metrics_route(registry)])
    async with client(app) as http:
        response = await http.get("/metrics", headers=bearer(roles=["admin"]))
    assert response.status_code == 401


def test_a_permission_that_is_not_a_permission_name_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigurationError):
        metrics_route(CollectorRegistry(), permission="Metrics Read")
