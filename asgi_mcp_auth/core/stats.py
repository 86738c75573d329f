"""`AuthStats`: what an authenticator counts, as plain integers that the request path increments.

Counting must cost next to nothing on the warm path (a cached token), so nothing here locks,
formats a label or calls into a metrics library: a request adds 1 to an attribute of an object
this package owns, and exporters (`asgi_mcp_auth.integrations.metrics`) read the numbers when
they are scraped. The counters always exist, so there is no "is metrics on?" test either.

Every label value is drawn from a fixed vocabulary (`OUTCOMES`, `REASONS`, `VERIFIER_KINDS`,
`REVOCATION_KINDS`): never a subject, a token, a client id, a path or a message. A refusal's
reason is its exception's public message when that message is one of the fixed ones in
`_BY_MESSAGE`, else the nearest class of the error tree, else `other`.

Not thread-safe for writers (the event loop is the only one); readers in other threads (an
OpenTelemetry export thread) take copies.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping

from .errors import (
    AuthenticationError,
    AuthError,
    CredentialsMissing,
    CrossSiteRequest,
    HeaderMismatch,
    InvalidRequest,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    UnsupportedScheme,
)

__all__ = [
    "LATENCY_BOUNDS",
    "NO_REASON",
    "OUTCOMES",
    "REASONS",
    "REVOCATION_KINDS",
    "VERIFIER_KINDS",
    "AuthStats",
    "LatencyHistogram",
    "VerificationListener",
    "outcome_of",
    "reason_of",
]

OUTCOMES = ("authenticated", "refused", "forbidden", "error", "public")
VERIFIER_KINDS = ("jwt", "jwks", "introspection", "custom")
REVOCATION_KINDS = ("token", "subject", "client")
NO_REASON = "none"  # the reason of an authenticated or public request
INTERNAL_ERROR = "internal_error"  # an unexpected exception while authenticating (500)
OTHER = "other"

#: Upper bounds (seconds) of the verification latency buckets: a JWT verified in memory takes
#: tens of microseconds, a JWKS fetch or an introspection call milliseconds to seconds.
LATENCY_BOUNDS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

# The package's fixed public messages that say more than their class: message -> (reason, the
# class that raises it). `tests/core/test_stats.py` checks that each still appears in the package.
_BY_MESSAGE: Mapping[str, tuple[str, type[AuthError]]] = {
    "Invalid token": ("invalid_token", AuthenticationError),
    "Token expired": ("token_expired", AuthenticationError),
    "Token revoked": ("token_revoked", AuthenticationError),
    "Token not accepted for this resource": ("not_for_this_resource", AuthenticationError),
    "Unknown signing key": ("unknown_signing_key", AuthenticationError),
    "Ambiguous signing key": ("ambiguous_signing_key", AuthenticationError),
    "Token has unsupported critical header parameters": ("unsupported_critical_header", AuthenticationError),
    "Token has no subject": ("no_subject", AuthenticationError),
    "Token too large": ("token_too_large", AuthenticationError),
    "Malformed bearer token": ("malformed_token", InvalidRequest),
    "Parse error: the body is not JSON an MCP server can read": ("unreadable_body", InvalidRequest),
    "Ambiguous JSON-RPC body": ("ambiguous_body", InvalidRequest),
    "Too many unknown tokens; try again shortly": ("introspection_throttled", ServiceUnavailable),
    "Revocation state unavailable": ("revocation_unavailable", ServiceUnavailable),
}
# Most specific first: the first class in an error's MRO found here names its reason.
_BY_CLASS: Mapping[type[AuthError], str] = {
    UnsupportedScheme: "unsupported_scheme",
    CredentialsMissing: "credentials_missing",
    HeaderMismatch: "header_mismatch",
    PayloadTooLarge: "payload_too_large",
    InvalidRequest: "invalid_request",
    CrossSiteRequest: "cross_site_request",
    PermissionDenied: "permission_denied",
    ServiceUnavailable: "unavailable",
    AuthenticationError: "authentication_failed",
}
REASONS = (
    NO_REASON,
    *(reason for reason, _ in _BY_MESSAGE.values()),
    *_BY_CLASS.values(),
    INTERNAL_ERROR,
    OTHER,
)


def outcome_of(status: int) -> str:
    """The outcome label of a decision answered with `status` (the audit log's outcome too)."""
    if status < 400:
        return "authenticated"
    if status == 403:
        return "forbidden"
    if status >= 500:
        return "error"
    return "refused"


def reason_of(error: BaseException) -> str:
    """The reason label of a refusal: always one of `REASONS`, whatever the error holds."""
    if not isinstance(error, AuthError):
        return INTERNAL_ERROR
    known = _BY_MESSAGE.get(error.message)
    if known is not None:
        return known[0]
    for cls in type(error).__mro__:
        reason = _BY_CLASS.get(cls)
        if reason is not None:
            return reason
    return OTHER


class LatencyHistogram:
    """Counts of observations per `LATENCY_BOUNDS` bucket (the last one unbounded) and their sum.
    `counts[i]` is the number of observations `<= LATENCY_BOUNDS[i]` and above the bound before."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BOUNDS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BOUNDS, seconds)] += 1
        self.total += seconds


VerificationListener = Callable[[str, float], None]
"""Called with (verifier kind, seconds) after each verification: how an exporter that must
record histograms itself (OpenTelemetry) sees them. Runs on the cold path only."""


class AuthStats:
    """The counters of one authenticator. Writers: the middleware (decisions), the authenticator
    (verification latency, revocations). The verified-token cache, the JWKS clients and the
    introspection verifier keep their own counters; `integrations.metrics` reads them all."""

    __slots__ = ("_listeners", "authenticated", "public", "refusals", "revocations", "verifications")

    def __init__(self) -> None:
        self.authenticated = 0
        self.public = 0
        # (outcome, reason) -> count, the expected pairs present from the start so that an
        # exporter shows them at 0 before the first refusal (rates need a first sample).
        self.refusals: dict[tuple[str, str], int] = {}
        for reason, cls in _BY_MESSAGE.values():
            self.refusals[(outcome_of(cls.status_code), reason)] = 0
        for cls, reason in _BY_CLASS.items():
            self.refusals[(outcome_of(cls.status_code), reason)] = 0
        self.refusals[("error", INTERNAL_ERROR)] = 0
        self.verifications = {kind: LatencyHistogram() for kind in VERIFIER_KINDS}
        self.revocations = dict.fromkeys(REVOCATION_KINDS, 0)
        self._listeners: list[VerificationListener] = []

    def __repr__(self) -> str:
        refused = sum(self.refusals.values())
        return f"AuthStats(authenticated={self.authenticated}, public={self.public}, refused={refused})"

    def count_refusal(self, error: AuthError) -> None:
        """One request refused with `error`, counted by its status and reason."""
        key = (outcome_of(error.status_code), reason_of(error))
        self.refusals[key] = self.refusals.get(key, 0) + 1

    def count_internal_error(self) -> None:
        """One request answered 500: an unexpected exception while authenticating it."""
        self.refusals[("error", INTERNAL_ERROR)] += 1

    def observe_verification(self, kind: str, seconds: float) -> None:
        """One verification (a cache miss) by a verifier of `kind` (one of `VERIFIER_KINDS`)."""
        self.verifications[kind].observe(seconds)
        for listener in self._listeners:
            listener(kind, seconds)

    def count_revocation(self, kind: str) -> None:
        self.revocations[kind] += 1

    def add_verification_listener(self, listener: VerificationListener) -> None:
        self._listeners.append(listener)

    def remove_verification_listener(self, listener: VerificationListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def revoked_refusals(self) -> int:
        """Requests refused because their token was revoked (a store or the `is_revoked` hook)."""
        return self.refusals[("refused", "token_revoked")]

    def decisions(self) -> dict[tuple[str, str], int]:
        """(outcome, reason) -> count, every decision so far; a copy, safe to read from any thread."""
        counts = dict(self.refusals)
        counts[("authenticated", NO_REASON)] = self.authenticated
        counts[("public", NO_REASON)] = self.public
        return counts
