"""`AuthStats`: a refusal's reason label is always one of a fixed few, whatever the error says."""

from __future__ import annotations

from pathlib import Path

import pytest

from asgi_mcp_auth import AuthenticationError, AuthError, PermissionDenied, ServiceUnavailable
from asgi_mcp_auth.core import stats
from asgi_mcp_auth.core.errors import CrossSiteRequest, UnsupportedScheme
from asgi_mcp_auth.core.stats import LATENCY_BOUNDS, REASONS, AuthStats, LatencyHistogram, reason_of

PACKAGE = Path(stats.__file__).resolve().parents[1]


def package_source() -> str:
    return "\n".join(path.read_text() for path in PACKAGE.rglob("*.py") if path.name != "stats.py")


@pytest.mark.parametrize("message", sorted(stats._BY_MESSAGE))
def test_every_message_with_its_own_reason_is_still_raised_by_the_package(message: str) -> None:
    # A message reworded at its source would otherwise fall back to its class's reason unseen.
    assert f'"{message}"' in package_source()


class VendorError(AuthError):
    status_code = 401


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AuthenticationError("Token expired"), "token_expired"),
        (AuthenticationError("Malformed roles claim"), "authentication_failed"),
        (AuthenticationError("unknown API key for user-8f2c"), "authentication_failed"),
        (PermissionDenied("tools.execute:rm -rf /"), "permission_denied"),
        (CrossSiteRequest(), "cross_site_request"),
        (UnsupportedScheme("Bearer token missing"), "unsupported_scheme"),
        (ServiceUnavailable(), "unavailable"),
        (VendorError("tenant-42 is suspended"), "other"),
        (RuntimeError("boom"), "internal_error"),
    ],
)
def test_a_reason_names_the_fixed_message_else_the_error_class_never_free_text(
    error: BaseException, reason: str
) -> None:
    assert reason_of(error) == reason
    assert reason in REASONS


def test_refusals_are_counted_under_the_outcome_their_status_gives() -> None:
    counts = AuthStats()
    counts.count_refusal(PermissionDenied("tools.read"))
    counts.count_refusal(ServiceUnavailable())
    counts.count_refusal(VendorError())
    counts.count_internal_error()
    decisions = counts.decisions()
    assert decisions[("forbidden", "permission_denied")] == 1
    assert decisions[("error", "unavailable")] == 1
    assert decisions[("refused", "other")] == 1
    assert decisions[("error", "internal_error")] == 1


def test_a_latency_lands_in_the_first_bucket_whose_bound_holds_it() -> None:
    histogram = LatencyHistogram()
    for seconds in (0.000001, LATENCY_BOUNDS[0], 0.003, 60.0):
        histogram.observe(seconds)
    assert histogram.counts[0] == 2  # <= the first bound, the bound itself included
    assert histogram.counts[LATENCY_BOUNDS.index(0.005)] == 1
    assert histogram.counts[-1] == 1  # above every bound: +Inf only
    assert sum(histogram.counts) == 4
