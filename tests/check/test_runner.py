"""The checker against real gateways under real uvicorn: each broken gateway fails the check
named after its bug, the correct one and the example gateway pass."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import anyio
import pytest
from broken_gateways import Bug, build_gateway
from live_server import LiveServer
from tokens import settings, token

from asgi_mcp_auth.check import Outcome, Report, Target, check_names, run_checks
from examples.fastapi_app.main import create_app

pytestmark = pytest.mark.slow

ADMIN = token("alice", roles=["admin"])
VIEWER = token("bob", roles=["viewer"])
TOKENS = {"admin": ADMIN, "viewer": VIEWER}

BUG_AND_CHECK = [
    (Bug.COOKIE_FIRST_FALLBACK, "identity-drift"),
    (Bug.TRUTHY_AUTH_RESULT, "refused-auth-no-session"),
    (Bug.MESSAGE_MATCHED_500, "malformed-credentials"),
    (Bug.PREFIX_SKIPS_CHECKS, "path-prefix"),
    (Bug.UNBOUND_SESSION, "session-binding"),
]


def check(url: str, **options: object) -> Report:
    target = Target(url=url, tokens=TOKENS, **options)  # type: ignore[arg-type]
    return anyio.run(run_checks, target)


@pytest.mark.parametrize(("bug", "name"), BUG_AND_CHECK, ids=[name for _, name in BUG_AND_CHECK])
def test_each_broken_gateway_fails_the_check_named_after_its_bug(bug: Bug, name: str) -> None:
    with LiveServer(build_gateway(bug)) as url:
        report = check(url, prefix="/gw")

    assert name in report.failed, report.render()
    assert report[name].exchange is not None


def test_the_correct_small_gateway_passes_every_check() -> None:
    with LiveServer(build_gateway()) as url:
        report = check(url, prefix="/gw")

    assert report.ok, report.render()
    assert [result.name for result in report.results] == list(check_names())
    # It never takes a cookie, so no check needs one to pass; none is skipped for want of a part.
    assert all(result.outcome is Outcome.PASS for result in report.results), report.render()


def test_a_failing_exchange_shows_request_status_and_body_with_tokens_redacted() -> None:
    with LiveServer(build_gateway(Bug.COOKIE_FIRST_FALLBACK)) as url:
        report = check(url)

    text = report.render()
    assert "FAIL  identity-drift" in text
    assert "> GET " in text
    assert "< HTTP 200" in text
    assert "<token:admin>" in text
    assert ADMIN not in text
    assert VIEWER not in text


def test_the_command_line_exits_non_zero_on_a_failed_check_and_zero_on_none() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for bug, expected in ((Bug.UNBOUND_SESSION, 1), (None, 0)):
        with LiveServer(build_gateway(bug)) as url:
            command = [sys.executable, "-m", "asgi_mcp_auth.check", f"{url}/mcp/", "--only", "session-binding"]
            command += ["--token-for", f"admin={ADMIN}", "--token-for", f"viewer={VIEWER}"]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)  # noqa: S603
        assert result.returncode == expected, result.stdout + result.stderr
        assert ADMIN not in result.stdout
        assert "session-binding" in result.stdout


def test_the_command_line_refuses_a_malformed_token_option_with_status_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "asgi_mcp_auth.check", "http://127.0.0.1:9/", "--token-for", "no-equals-sign"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ROLE=VALUE" in result.stderr


# --------------------------------------------------------------------------- the example gateway

KNOWN_GAPS: dict[str, str] = {}  # check name -> why the example still fails it (none now)
NOT_APPLICABLE = {"path-prefix": "the example is not served under a prefix"}


@pytest.fixture(scope="module")
def example_report() -> Iterator[Report]:
    with LiveServer(create_app(settings())) as url:
        yield check(url)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        if name in KNOWN_GAPS
        else name
        for name in check_names()
    ],
)
def test_the_example_gateway_passes_the_check(example_report: Report, name: str) -> None:
    expected = Outcome.SKIP if name in NOT_APPLICABLE else Outcome.PASS
    assert example_report.outcome(name) is expected, example_report.render()
