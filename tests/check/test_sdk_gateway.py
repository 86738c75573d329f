"""The checker against a gateway this project did not write: the mcp SDK's own auth stack.

The expected table is the one recorded in README.md ("Test your gateway"); a change in the SDK
or in a check that moves a row shows here first.
"""

from __future__ import annotations

import anyio
import pytest
from live_server import LiveServer
from sdk_auth_gateway import SDK_TOKENS, build_sdk_gateway

from asgi_mcp_auth.check import Outcome, Target, run_checks

pytestmark = pytest.mark.slow

RECORDED = {
    "identity-drift": Outcome.PASS,
    "refused-auth-no-session": Outcome.PASS,
    "malformed-credentials": Outcome.PASS,
    # The SDK answers a request without any credential with error="invalid_token" (RFC 6750 §3.1: no error code).
    "bearer-challenge": Outcome.FAIL,
    "resource-metadata": Outcome.PASS,
    "cookie-non-browser": Outcome.PASS,
    "cookie-cross-site": Outcome.PASS,
    "session-binding": Outcome.PASS,
    "method-permissions": Outcome.PASS,
    "path-prefix": Outcome.SKIP,
    "root-path-header": Outcome.PASS,
    "header-body-agreement": Outcome.PASS,
}


def test_the_sdk_auth_gateway_gives_the_table_recorded_in_the_readme() -> None:
    tokens = {role: value for role, (value, _sub, _scopes) in SDK_TOKENS.items()}
    with LiveServer(build_sdk_gateway()) as url:
        target = Target(url=url, tokens=tokens, mcp_path="/mcp", whoami_route=None)
        report = anyio.run(run_checks, target)

    assert {result.name: result.outcome for result in report.results} == RECORDED, report.render()
    assert "error='invalid_token'" in report["bearer-challenge"].summary
