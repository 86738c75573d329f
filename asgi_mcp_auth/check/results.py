"""Small constructors for rows, and reading identities out of whoami answers."""

from __future__ import annotations

import json
from typing import Any

from .model import CheckResult, Outcome
from .wire import Reply

__all__ = ["failed", "identities_in", "passed", "skipped", "tool_payload"]


def passed(name: str, summary: str) -> CheckResult:
    return CheckResult(name, Outcome.PASS, summary)


def failed(name: str, summary: str, reply: Reply | None) -> CheckResult:
    return CheckResult(name, Outcome.FAIL, summary, reply.exchange if reply is not None else None)


def skipped(name: str, reason: str) -> CheckResult:
    return CheckResult(name, Outcome.SKIP, reason)


def tool_payload(reply: Reply) -> Any:
    """A successful tool result's structured content, else its text parsed as JSON, else None."""
    result = reply.rpc_result
    if result is None or result.get("isError"):
        return None
    if isinstance(result.get("structuredContent"), dict):
        return result["structuredContent"]
    texts = [part.get("text", "") for part in result.get("content", []) if isinstance(part, dict)]
    try:
        return json.loads("".join(texts))
    except ValueError:
        return None


def identities_in(data: Any, field: str) -> dict[str, str]:
    """Every identity a whoami answer reports: `field` and any `*_<field>` key, top level only.

    Null values are left out (a gateway may say "no identity here"); anything else counts,
    so a gateway that reports two different identities for one request is caught.
    """
    if not isinstance(data, dict):
        return {}
    return {
        key: str(value)
        for key, value in data.items()
        if (key == field or key.endswith(f"_{field}")) and value is not None
    }
