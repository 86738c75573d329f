"""The audit log: one record per authentication decision, on the `asgi_mcp_auth.audit` logger.

Levels keep production logs quiet: successes are DEBUG, refusals (400/401/413) INFO, forbidden
requests (403, including CSRF refusals) WARNING, internal errors ERROR. Each record carries the
decision as `record.audit` (a dict) for structured handlers, and a one-line message for the
rest. A record never holds a token, a cookie or a secret: only the subject, the token source,
the client address, the method, the path, the status and the public reason.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.types import Scope

from ..core.principal import Principal
from ..core.stats import outcome_of  # the metrics count decisions by the same outcomes

__all__ = ["AUDIT_LOGGER", "audit"]

AUDIT_LOGGER = "asgi_mcp_auth.audit"
logger = logging.getLogger(AUDIT_LOGGER)
LOG_DECISION = "auth %s status=%d method=%s path=%r client=%s subject=%r source=%s reason=%r"

# Control characters, and the Unicode line breaks some log viewers honour: a subject or reason
# holding CR/LF must never start a second, forged record.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_FIELD_CHARS = 512


def _escaped(value: object) -> str | None:
    """`value` as one printable line: control characters as `\\xNN` / `\\uNNNN`, at most
    512 characters. None stays None."""
    if value is None:
        return None
    text = str(value)[:_MAX_FIELD_CHARS]
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _level(status: int) -> int:
    if status < 400:
        return logging.DEBUG
    if status == 403:
        return logging.WARNING
    if status >= 500:
        return logging.ERROR
    return logging.INFO


def audit(scope: Scope, status: int, principal: Principal | None = None, reason: str | None = None) -> None:
    """Record one decision about the request in `scope`."""
    level = _level(status)
    if not logger.isEnabledFor(level):
        return
    client = scope.get("client")
    decision: dict[str, Any] = {
        "outcome": outcome_of(status),
        "status": status,
        "method": _escaped(scope.get("method", "WEBSOCKET")),
        "path": _escaped(scope.get("path", "")),
        "client": _escaped(f"{client[0]}:{client[1]}") if client else None,
        "subject": _escaped(principal.subject) if principal else None,
        "token_source": _escaped(principal.token_source.value) if principal else None,
        "reason": _escaped(reason),
    }
    logger.log(
        level,
        LOG_DECISION,
        decision["outcome"],
        status,
        decision["method"],
        decision["path"],
        decision["client"],
        decision["subject"],
        decision["token_source"],
        decision["reason"],
        extra={"audit": decision},
    )
