"""`run_checks(target)`: every check, in order, against one gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import httpx

from .challenges import bearer_challenge, resource_metadata
from .cookies import cookie_cross_site, cookie_non_browser
from .identity import identity_drift, session_binding
from .model import CheckResult, Outcome, Report
from .permissions import header_body_agreement, method_permissions, path_prefix, root_path_header
from .probe import LoginFailed, Prober
from .refusals import malformed_credentials, refused_auth_no_session
from .target import Target

__all__ = ["CHECKS", "check_names", "run_checks"]

Check = Callable[[Prober], Awaitable[CheckResult]]

#: (name, check) in the order they run; names are the rows of the report.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("identity-drift", identity_drift),
    ("refused-auth-no-session", refused_auth_no_session),
    ("malformed-credentials", malformed_credentials),
    ("bearer-challenge", bearer_challenge),
    ("resource-metadata", resource_metadata),
    ("cookie-non-browser", cookie_non_browser),
    ("cookie-cross-site", cookie_cross_site),
    ("session-binding", session_binding),
    ("method-permissions", method_permissions),
    ("path-prefix", path_prefix),
    ("root-path-header", root_path_header),
    ("header-body-agreement", header_body_agreement),
)


def check_names() -> tuple[str, ...]:
    return tuple(name for name, _ in CHECKS)


async def run_checks(
    target: Target,
    *,
    only: Sequence[str] | None = None,
    client: httpx.AsyncClient | None = None,
) -> Report:
    """Run the checks (all, or those named in `only`) against `target` and return the report.

    Never raises for what the gateway does: a check that cannot talk to it reports FAIL or
    SKIP with the reason. `client` replaces the HTTP client (e.g. one with an ASGI transport).
    """
    unknown = set(only or ()) - set(check_names())
    if unknown:
        raise ValueError(f"unknown checks: {', '.join(sorted(unknown))}")
    owned = client is None
    http = client or httpx.AsyncClient(timeout=target.timeout)
    results: list[CheckResult] = []
    try:
        prober = Prober(target, http)
        try:
            await prober.log_in()
        except LoginFailed as exc:
            return Report(target.url, (CheckResult("cookie-login", Outcome.FAIL, str(exc)),))
        for name, check in CHECKS:
            if only and name not in only:
                continue
            try:
                result = await check(prober)
            except httpx.HTTPError as exc:
                result = CheckResult(name, Outcome.FAIL, f"could not talk to the gateway: {type(exc).__name__}")
            results.append(result)
    finally:
        if owned:
            await http.aclose()
    return Report(target.url, tuple(results))
