"""Case 7: what metrics cost on the warm path (a cached token): no exporter, a Prometheus
collector, OpenTelemetry observable instruments, interleaved, next to the bare app.

The request path only adds to plain integers the package owns, whether an exporter is attached
or not; exporters read them at scrape time. So "enabled minus disabled" should be noise: a
second middleware without an exporter, timed last, shows how large the noise is. What counting
costs at all (two integer increments per warm request, always on) is measured on its own. A
scrape runs after every batch (outside the timing), as a real one would between requests, and
its own cost is reported too."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence

from harness import (
    Headers,
    Plan,
    Variant,
    bare_app,
    measure_all,
    ours,
    pool_token,
    request_headers,
    status_of,
    time_batch,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from starlette.types import ASGIApp

from asgi_mcp_auth import MCPAuthMiddleware
from asgi_mcp_auth.integrations.metrics import OpenTelemetryMetrics, PrometheusMetrics

BARE = "bare app"
OFF = "ours, warm, no exporter"
PROMETHEUS = "ours, warm, Prometheus collector"
OTEL = "ours, warm, OpenTelemetry instruments"
CONTROL = "ours, warm, no exporter (a second one)"
GOAL = 0.2e-6  # seconds per request that an enabled exporter may add


def scraped(name: str, app: ASGIApp, plan: Plan, headers: Sequence[Headers], scrape: Callable[[], object]) -> Variant:
    async def run_batch(count: int) -> float:
        seconds = await time_batch(app, list(headers) * (count // len(headers)))
        scrape()
        return seconds

    return Variant(name, plan, run_batch)


def counting_cost(app: MCPAuthMiddleware, loops: int = 2_000_000) -> float:
    """Seconds per request of what the warm path counts: the middleware's decision and the
    cache hit, the same attribute increments on the same objects, minus an empty loop."""
    cache = app.authenticator.cache

    def counted() -> float:
        start = time.perf_counter()
        for _ in range(loops):
            app.stats.authenticated += 1
            cache.hits += 1
        return time.perf_counter() - start

    def empty() -> float:
        start = time.perf_counter()
        for _ in range(loops):
            pass
        return time.perf_counter() - start

    differences = []
    for _ in range(7):
        gc.collect()
        differences.append(counted() - empty())
    return max(0.0, statistics.median(differences)) / loops


def per_scrape(scrape: Callable[[], object], runs: int = 200) -> float:
    scrape()
    start = time.perf_counter()
    for _ in range(runs):
        scrape()
    return (time.perf_counter() - start) / runs


async def metrics_section(quick: bool) -> dict[str, float]:
    print("\n## 7. Metrics on the warm path, raw ASGI calls in one process\n")
    repeats = 3 if quick else 5
    fast = Plan(batch=5_000, batches=5) if quick else Plan(batch=20_000, batches=7)
    same = [request_headers(pool_token("warm", 0))]

    off, prometheus_app, otel_app, control = ours(bare_app), ours(bare_app), ours(bare_app), ours(bare_app)
    registry = CollectorRegistry()
    PrometheusMetrics(prometheus_app, registry=registry)
    reader = InMemoryMetricReader()
    OpenTelemetryMetrics(otel_app, meter_provider=MeterProvider(metric_readers=[reader]))
    for app in (off, prometheus_app, otel_app, control):
        if await status_of(app, same[0]) != 200:
            raise SystemExit("a valid token was not served")

    def prometheus_scrape() -> bytes:
        return generate_latest(registry)

    def otel_collect() -> object:
        return reader.get_metrics_data()

    variants = [
        scraped(BARE, bare_app, fast, same, lambda: None),
        scraped(OFF, off, fast, same, lambda: None),
        scraped(PROMETHEUS, prometheus_app, fast, same, prometheus_scrape),
        scraped(OTEL, otel_app, fast, same, otel_collect),
        scraped(CONTROL, control, fast, same, lambda: None),
    ]
    results = await measure_all(variants, repeats)
    hits = registry.get_sample_value("mcp_auth_token_cache_hits_total") or 0
    if hits < fast.batch * fast.batches * repeats:
        raise SystemExit(f"the Prometheus collector saw {hits:.0f} cache hits: not wired")

    bare = results[BARE]
    print(f"(min over {repeats} repeats of the median per-request time over batches; a scrape after each batch)\n")
    print(f"{'':44s} {'per request':>12s} {'overhead':>11s}")
    for name, seconds in results.items():
        overhead = "" if name == BARE else f"{(seconds - bare) * 1e6:8.2f} us"
        print(f"{name:44s} {seconds * 1e6:9.2f} us {overhead:>11s}")
    off_medians = next(variant.medians for variant in variants if variant.name == OFF)
    noise = max(off_medians) - min(off_medians)
    counting = counting_cost(off)
    print()
    for name, label in ((PROMETHEUS, "Prometheus"), (OTEL, "OpenTelemetry")):
        extra = results[name] - results[OFF]
        met = "MET" if extra <= GOAL else "MISSED"
        print(f"{label + ' above no exporter':44s} {extra * 1e6:+6.3f} us   target <= 0.2 us   {met}")
    control_extra = (results[CONTROL] - results[OFF]) * 1e6
    print(f"{'(a second no-exporter one above the first':44s} {control_extra:+6.3f} us   the noise of these figures)")
    met = "MET" if counting <= max(noise, 0.0) else "MISSED"
    print(f"{'counting itself (2 increments, always on)':44s} {counting * 1e6:6.3f} us   "
          f"target < run-to-run noise ({noise * 1e6:.3f} us)   {met}")  # fmt: skip
    print(f"\none scrape: Prometheus {per_scrape(prometheus_scrape) * 1e6:.0f} us, "
          f"OpenTelemetry collect {per_scrape(otel_collect) * 1e6:.0f} us (not on the request path)")  # fmt: skip
    return results
