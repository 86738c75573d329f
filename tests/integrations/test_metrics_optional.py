"""The metrics extras are optional: without `prometheus_client` and `opentelemetry` the package
imports, serves and counts, and only the exporters say which extra they need."""

from __future__ import annotations

from pathlib import Path

from subprocess_support import run_with_blocked_imports

BLOCK_EXTRAS = """
import importlib.abc
import sys


class BlockMetricsLibraries(importlib.abc.MetaPathFinder):
    # Behaves as if neither metrics library were installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("prometheus_client", "opentelemetry"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None


sys.meta_path.insert(0, BlockMetricsLibraries())
"""

CHILD = """
import json
import sys

import anyio
import httpx

import asgi_mcp_auth
from asgi_mcp_auth import Authenticator, MCPAuthMiddleware
from asgi_mcp_auth.integrations import metrics
from apps import RecordingApp
from tokens import settings, token


def missing(name):
    try:
        getattr(metrics, name)
    except ImportError as exc:
        return str(exc)
    return None


async def main():
    authenticator = Authenticator.from_settings(settings())
    app = MCPAuthMiddleware(RecordingApp(), authenticator=authenticator)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.example.com") as client:
        ok = await client.get("/tools", headers={"Authorization": "Bearer " + token("alice")})
        refused = await client.get("/tools")
    snapshot = metrics.read_snapshot(authenticator)
    print(json.dumps({
        "status": ok.status_code,
        "refused_status": refused.status_code,
        "authenticated": snapshot.decisions[("authenticated", "none")],
        "refused": snapshot.decisions[("refused", "credentials_missing")],
        "prometheus": missing("PrometheusMetrics"),
        "opentelemetry": missing("OpenTelemetryMetrics"),
        "loaded": sorted(name for name in sys.modules if name.split(".")[0] in ("prometheus_client", "opentelemetry")),
    }))


anyio.run(main)
"""


def test_the_package_serves_and_counts_without_prometheus_client_or_opentelemetry(tmp_path: Path) -> None:
    report = run_with_blocked_imports(tmp_path, BLOCK_EXTRAS, CHILD)
    assert report["status"] == 200
    assert report["refused_status"] == 401
    assert (report["authenticated"], report["refused"]) == (1, 1)
    assert "pip install 'asgi-mcp-auth[prometheus]'" in report["prometheus"]
    assert "pip install 'asgi-mcp-auth[opentelemetry]'" in report["opentelemetry"]
    assert report["loaded"] == []
