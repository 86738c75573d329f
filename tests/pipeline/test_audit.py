"""The audit log: one record per decision, never a token, cookie or secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from apps import RecordingApp, client, protect
from tokens import SECRET, settings, token

from asgi_mcp_auth import AuthResult
from asgi_mcp_auth.pipeline.audit import AUDIT_LOGGER

pytestmark = pytest.mark.anyio

GW = "https://gw.example.com"


def decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.audit for record in caplog.records if record.name == AUDIT_LOGGER]  # type: ignore[attr-defined]


async def test_each_decision_is_one_structured_record_at_a_level_that_keeps_logs_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = token("alice", roles=["viewer"])
    bob = token("bob")
    cookie_headers = {"Cookie": f"jwt_token={bob}", "Referer": f"{GW}/admin", "Origin": "https://evil.example"}
    caplog.set_level(logging.DEBUG, logger=AUDIT_LOGGER)
    async with client(protect(RecordingApp())) as http:
        await http.get("/tools", headers={"Authorization": f"Bearer {alice}"})
        await http.get("/tools")
        await http.get("/tools", headers={"Authorization": f"Bearer {alice}x"})
        await http.post("/tools", headers=cookie_headers)
        await http.post(
            "/mcp",
            headers={"Authorization": f"Bearer {alice}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo"}},
        )

    records = decisions(caplog)
    assert [(r["outcome"], r["status"]) for r in records] == [
        ("authenticated", 200),
        ("refused", 401),
        ("refused", 401),
        ("forbidden", 403),
        ("forbidden", 403),
    ]
    levels = [record.levelno for record in caplog.records if record.name == AUDIT_LOGGER]
    assert levels == [logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING, logging.WARNING]
    assert records[0]["subject"] == "alice"
    assert records[0]["token_source"] == "header"
    assert records[0]["path"] == "/tools"
    assert records[0]["method"] == "GET"
    assert records[0]["client"] is not None
    assert records[1]["reason"] == "Authentication required"
    assert records[3]["reason"] == "Cross-site request refused"
    assert records[4]["subject"] == "alice"
    assert records[4]["reason"] == "Permission denied: tools.execute:echo required"


async def test_audit_records_never_contain_tokens_cookies_or_secrets(caplog: pytest.LogCaptureFixture) -> None:
    good = token("alice")
    expired = token("alice", exp=1)
    tampered = good[:-2] + "xx"
    caplog.set_level(logging.DEBUG)
    async with client(protect(RecordingApp())) as http:
        for headers in (
            {"Authorization": f"Bearer {good}"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": f"Bearer {tampered}"},
            {"Authorization": f"Basic {good}"},
            {"Cookie": f"jwt_token={good}", "Referer": f"{GW}/admin"},
            {"Cookie": f"jwt_token={good}; jwt_token={expired}", "Referer": f"{GW}/admin"},
        ):
            await http.get("/tools", headers=headers)

    text = "\n".join(f"{record.getMessage()} {getattr(record, 'audit', '')}" for record in caplog.records)
    assert "alice" in text  # the subject is there ...
    for secret in (good, expired, tampered, SECRET, good.split(".")[2]):
        assert secret not in text  # ... the credentials are not


async def test_control_characters_in_the_path_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    async with client(protect(RecordingApp())) as http:
        await http.get("/tools%0Aauth authenticated status=200 subject=admin")

    (record,) = [record for record in caplog.records if record.name == AUDIT_LOGGER]
    assert "\n" not in record.getMessage()


async def test_custom_authenticator_refusals_and_internal_errors_are_audited(caplog: pytest.LogCaptureFixture) -> None:
    async def refuse(conn: Any) -> AuthResult:
        return AuthResult(authenticated=False, error="unknown api key")

    async def explode(conn: Any) -> AuthResult:
        raise RuntimeError("db down")

    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    async with client(protect(RecordingApp(), settings(), authenticate=refuse)) as http:
        await http.get("/x")
    async with client(protect(RecordingApp(), settings(), authenticate=explode)) as http:
        await http.get("/x")

    assert [(r["outcome"], r["status"], r["reason"]) for r in decisions(caplog)] == [
        ("refused", 401, "unknown api key"),
        ("error", 500, "Internal error while authenticating"),
    ]


async def test_successes_are_not_logged_at_the_default_info_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    async with client(protect(RecordingApp())) as http:
        for _ in range(5):
            await http.get("/tools", headers={"Authorization": f"Bearer {token()}"})

    assert decisions(caplog) == []
