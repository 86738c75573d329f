"""The session cookie: never for non-browser clients, never for unsafe cross-site requests (CSRF)."""

from __future__ import annotations

from .model import CheckResult
from .probe import Prober
from .results import failed, passed, skipped

__all__ = ["cookie_cross_site", "cookie_non_browser"]

COOKIE_NON_BROWSER = "cookie-non-browser"
COOKIE_CROSS_SITE = "cookie-cross-site"


async def cookie_non_browser(prober: Prober) -> CheckResult:
    """The cookie alone, from a client that sends no browser signal (curl, an SDK), is refused
    on the MCP endpoint and the whoami route."""
    if not prober.target.roles:
        return skipped(COOKIE_NON_BROWSER, "needs a token or cookie for one role")
    role = prober.target.roles[0]
    reply = await prober.initialize(headers=prober.cookie(role))
    if reply.ok:
        return failed(COOKIE_NON_BROWSER, f"{role}'s cookie without browser signals opened an MCP session", reply)
    if prober.target.whoami_route is not None:
        reply = await prober.send("GET", prober.target.whoami_route, headers=prober.cookie(role))
        if reply.ok:
            return failed(
                COOKIE_NON_BROWSER, f"{role}'s cookie without browser signals was accepted by the whoami route", reply
            )
    return passed(COOKIE_NON_BROWSER, "the cookie without browser signals is refused")


async def cookie_cross_site(prober: Prober, *, path: str | None = None) -> CheckResult:
    """POST with the cookie and another site's Origin / Sec-Fetch-Site / Referer is refused.

    A null Origin (sandboxed frames, some redirects) counts as another site too.
    """
    if not prober.target.roles:
        return skipped(COOKIE_CROSS_SITE, "needs a token or cookie for one role")
    role = prober.target.roles[0]
    foreign = prober.cross_site_page()
    variants = [
        ("another site's page", foreign),
        ("Origin: null", {**foreign, "origin": "null"}),
        ("Sec-Fetch-Site: same-site", {**foreign, "sec-fetch-site": "same-site"}),
        ("a cross-site Referer only", {"referer": "https://attacker.example/page"}),
    ]
    for label, headers in variants:
        reply = await prober.initialize(headers={**prober.cookie(role), **headers}, path=path)
        if reply.ok:
            return failed(COOKIE_CROSS_SITE, f"POST with {role}'s cookie from {label} was accepted", reply)
    same_origin = await prober.initialize(headers={**prober.cookie(role), **prober.same_origin_page()}, path=path)
    note = "the cookie works from the gateway's own page" if same_origin.ok else "the gateway never took the cookie"
    return passed(COOKIE_CROSS_SITE, f"{len(variants)} cross-site POSTs with the cookie refused ({note})")
