"""What a check run produces: one `CheckResult` row per check, with the exchange that failed."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["BODY_LIMIT", "CheckResult", "Exchange", "Outcome", "Report", "redact"]

#: Bodies are shown up to this many characters: enough to see an error message or a traceback.
BODY_LIMIT = 600
#: Response headers worth showing when an exchange failed; the rest is noise.
RELEVANT_HEADERS = (
    "content-type",
    "location",
    "mcp-session-id",
    "set-cookie",
    "www-authenticate",
)


class Outcome(str, enum.Enum):
    """PASS: the gateway behaved; FAIL: it did not; SKIP: the check could not run (reason given)."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"

    def __str__(self) -> str:
        return self.value


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with every secret value replaced by `<NAME>`; longest first, so a token that
    contains another one is hidden whole."""
    for value, name in sorted(secrets.items(), key=lambda item: -len(item[0])):
        if value:
            text = text.replace(value, f"<{name}>")
    return text


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer, already redacted (no token or password is kept)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    status: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: str
    error: str | None = None

    def render(self) -> str:
        """Request line, request headers and body, status, relevant response headers, truncated body."""
        lines = [f"> {self.method} {self.url}"]
        lines += [f"> {name}: {value}" for name, value in self.request_headers]
        if self.request_body:
            lines.append(f"> {_truncate(self.request_body)}")
        if self.error is not None:
            lines.append(f"< (no response: {self.error})")
            return "\n".join(lines)
        lines.append(f"< HTTP {self.status}")
        lines += [f"< {name}: {value}" for name, value in self.response_headers if name in RELEVANT_HEADERS]
        if self.response_body:
            lines.append(f"< {_truncate(self.response_body)}")
        return "\n".join(lines)


def _truncate(text: str) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= BODY_LIMIT else f"{text[:BODY_LIMIT]}... ({len(text)} chars)"


@dataclass(frozen=True)
class CheckResult:
    """One row of the report. `exchange` is the request that showed the failure (FAIL only)."""

    name: str
    outcome: Outcome
    summary: str
    exchange: Exchange | None = None


@dataclass(frozen=True)
class Report:
    """Every check's result, in the order they ran. `ok` is False when any check failed."""

    url: str
    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the checks that failed."""
        return tuple(result.name for result in self.results if result.outcome is Outcome.FAIL)

    def outcome(self, name: str) -> Outcome:
        """The outcome of the check called `name`; KeyError if no such check ran."""
        return self[name].outcome

    def __getitem__(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def render(self) -> str:
        """A plain-text table, then the failing exchange of each failed check."""
        width = max((len(result.name) for result in self.results), default=5)
        lines = [f"asgi-mcp-auth gateway check: {self.url}", ""]
        lines += [f"{result.outcome!s:4}  {result.name:{width}}  {result.summary}" for result in self.results]
        failures = [result for result in self.results if result.outcome is Outcome.FAIL]
        for result in failures:
            lines += ["", f"--- {result.name}: {result.summary}"]
            if result.exchange is not None:
                lines.append(result.exchange.render())
        counts = _counts(self.results)
        lines += ["", f"PASS {counts[Outcome.PASS]}, FAIL {counts[Outcome.FAIL]}, SKIP {counts[Outcome.SKIP]}"]
        return "\n".join(lines)


def _counts(results: Iterable[CheckResult]) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for result in results:
        counts[result.outcome] += 1
    return counts
