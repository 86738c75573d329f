"""A black-box checker for a running MCP gateway: `python -m asgi_mcp_auth.check URL ...`.

It needs nothing from the gateway but HTTP: tokens per role, and optionally where the gateway
reports who is calling (a whoami route or tool). The same as a function::

    report = await run_checks(Target(url="http://127.0.0.1:8000", tokens={"admin": a, "viewer": v}))
    assert report.ok, report.render()

It imports nothing of the middleware, so it judges any gateway alike.
"""

from __future__ import annotations

from .model import CheckResult, Exchange, Outcome, Report
from .runner import CHECKS, check_names, run_checks
from .target import CookieLogin, Target

__all__ = [
    "CHECKS",
    "CheckResult",
    "CookieLogin",
    "Exchange",
    "Outcome",
    "Report",
    "Target",
    "check_names",
    "run_checks",
]
