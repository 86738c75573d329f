"""The records of revocation and the in-memory set that the warm path looks them up in.

`RevocationKey` is what a lookup needs from one verified token, computed once when the token
is verified (a cached token reuses it); `Revocation` is one revocation as stored and published;
`RevocationState` holds the live ones of a process. Pure: no I/O, no clock but the one given.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from ..core.principal import Principal

__all__ = [
    "DEFAULT_MAX_TOKEN_LIFETIME",
    "Revocation",
    "RevocationKey",
    "RevocationKind",
    "RevocationState",
    "revocation_key",
]

#: How long a subject or client revocation is kept when the caller does not say: tokens issued
#: before it must have expired by then (a day covers common access-token lifetimes).
DEFAULT_MAX_TOKEN_LIFETIME = 86_400.0

RevocationKind = Literal["token", "subject", "client"]


@dataclass(frozen=True, slots=True)
class RevocationKey:
    """What a revocation lookup needs from one verified token; computed once per verification."""

    token: str  # SHA-256 hex of (iss, jti), or of the token itself when it has no jti
    subject: tuple[str, str]  # (iss, sub)
    client: tuple[str, str] | None  # (iss, client_id)
    issued_at: float | None  # `iat`; None when absent or not a number
    expires_at: float | None  # `exp`


def _digest(*parts: str) -> str:
    # Length-prefixed so ("ab", "c") and ("a", "bc") never collide.
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        hasher.update(len(data).to_bytes(4, "big"))
        hasher.update(data)
    return hasher.hexdigest()


def revocation_key(principal: Principal, token: str | None) -> RevocationKey:
    """The `RevocationKey` of a verified principal (and the token it came from, if any)."""
    issuer = principal.issuer or ""
    jti = principal.claims.get("jti")
    if isinstance(jti, str) and jti:
        token_id = _digest("jti", issuer, jti)
    elif token is not None:
        token_id = _digest("token", token)
    else:
        # A custom authenticator's principal without jti or token: only subject/client rules apply.
        token_id = _digest("principal", issuer, principal.subject, str(principal.expires_at))
    iat = principal.claims.get("iat")
    issued_at = float(iat) if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None
    if issued_at is not None and not math.isfinite(issued_at):
        issued_at = None
    client = (issuer, principal.client_id) if principal.client_id else None
    return RevocationKey(
        token=token_id,
        subject=(issuer, principal.subject),
        client=client,
        issued_at=issued_at,
        expires_at=float(principal.expires_at) if principal.expires_at is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revocation as stored and published. `until` (Unix time) is when it may be forgotten."""

    kind: RevocationKind
    until: float
    token: str = ""  # kind == "token": the RevocationKey.token digest
    issuer: str = ""  # kind == "subject" / "client"
    name: str = ""  # the subject or the client_id
    before: float = 0.0  # tokens issued at or before this moment are revoked

    @classmethod
    def of_token(cls, key: RevocationKey, *, until: float | None = None, now: float | None = None) -> Revocation:
        now = time.time() if now is None else now
        if until is None:
            until = key.expires_at if key.expires_at is not None else now + DEFAULT_MAX_TOKEN_LIFETIME
        return cls(kind="token", token=key.token, until=until)

    @classmethod
    def of_subject(
        cls, subject: str, *, issuer: str | None = None, before: float | None = None, lifetime: float | None = None
    ) -> Revocation:
        return cls._rule("subject", subject, issuer, before, lifetime)

    @classmethod
    def of_client(
        cls, client_id: str, *, issuer: str | None = None, before: float | None = None, lifetime: float | None = None
    ) -> Revocation:
        return cls._rule("client", client_id, issuer, before, lifetime)

    @classmethod
    def _rule(
        cls, kind: RevocationKind, name: str, issuer: str | None, before: float | None, lifetime: float | None
    ) -> Revocation:
        if not name:
            raise ValueError(f"a {kind} revocation needs a non-empty name")
        before = time.time() if before is None else float(before)
        lifetime = DEFAULT_MAX_TOKEN_LIFETIME if lifetime is None else float(lifetime)
        return cls(kind=kind, issuer=issuer or "", name=name, before=before, until=before + lifetime)

    def to_json(self) -> str:
        """Canonical JSON: equal revocations encode to equal text (a set member in a store)."""
        payload: dict[str, Any] = {"k": self.kind, "u": self.until}
        if self.kind == "token":
            payload["t"] = self.token
        else:
            payload.update(i=self.issuer, n=self.name, b=self.before)
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Revocation:
        """Raises ValueError for anything that is not a revocation this module wrote."""
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError("not JSON") from exc
        if not isinstance(payload, Mapping):
            raise ValueError("not an object")
        kind, until = payload.get("k"), payload.get("u")
        if not _is_number(until):
            raise ValueError("bad until")
        if kind == "token" and isinstance(payload.get("t"), str):
            return cls(kind="token", token=payload["t"], until=float(until))
        issuer, name, before = payload.get("i"), payload.get("n"), payload.get("b")
        if kind in ("subject", "client") and isinstance(issuer, str) and isinstance(name, str) and _is_number(before):
            return cls(kind=kind, issuer=issuer, name=name, before=float(before), until=float(until))
        raise ValueError("not a revocation")


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class RevocationState:
    """The set of live revocations of one process, and the lookup the warm path runs.

    Revocations only accumulate (there is no un-revoke) until their `until` passes, so merging
    two states in any order gives the same result. Not thread-safe: event loop only.
    """

    __slots__ = ("_clients", "_clock", "_subjects", "_tokens")

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock if clock is not None else time.time
        self._tokens: dict[str, float] = {}  # digest -> until
        self._subjects: dict[tuple[str, str], tuple[float, float]] = {}  # (iss, sub) -> (before, until)
        self._clients: dict[tuple[str, str], tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._tokens) + len(self._subjects) + len(self._clients)

    def is_revoked(self, key: RevocationKey) -> bool:
        """True when a live revocation covers `key`. The per-request check: no I/O, no allocation
        beyond the lookups, and nothing at all to do while the state is empty."""
        if key.token in self._tokens:
            return True
        if self._subjects:
            rule = self._subjects.get(key.subject)
            if rule is not None and _covers(rule, key.issued_at):
                return True
        if self._clients and key.client is not None:
            rule = self._clients.get(key.client)
            if rule is not None and _covers(rule, key.issued_at):
                return True
        return False

    def add(self, revocation: Revocation) -> bool:
        """Apply one revocation; True when it changed the state. Expired ones are ignored."""
        if revocation.until <= self._clock():
            return False
        if revocation.kind == "token":
            if self._tokens.get(revocation.token, -math.inf) >= revocation.until:
                return False
            self._tokens[revocation.token] = revocation.until
            return True
        rules = self._subjects if revocation.kind == "subject" else self._clients
        key = (revocation.issuer, revocation.name)
        old = rules.get(key)
        new = (revocation.before, revocation.until)
        if old is not None:
            new = (max(old[0], new[0]), max(old[1], new[1]))
            if new == old:
                return False
        rules[key] = new
        return True

    def update(self, revocations: Iterable[Revocation]) -> int:
        """Apply many; the number that changed the state."""
        return sum(self.add(revocation) for revocation in revocations)

    def prune(self) -> int:
        """Forget revocations past their `until`; the number forgotten."""
        now = self._clock()
        dropped = 0
        expired = [key for key, until in self._tokens.items() if until <= now]
        for token in expired:
            del self._tokens[token]
        dropped += len(expired)
        for rules in (self._subjects, self._clients):
            stale = [key for key, (_before, until) in rules.items() if until <= now]
            for key in stale:
                del rules[key]
            dropped += len(stale)
        return dropped

    def revocations(self) -> list[Revocation]:
        """Every live revocation (for a store that re-publishes or a test that compares)."""
        items = [Revocation(kind="token", token=token, until=until) for token, until in self._tokens.items()]
        tables: tuple[tuple[RevocationKind, dict[tuple[str, str], tuple[float, float]]], ...] = (
            ("subject", self._subjects),
            ("client", self._clients),
        )
        for kind, rules in tables:
            for (issuer, name), (before, until) in rules.items():
                items.append(Revocation(kind=kind, issuer=issuer, name=name, before=before, until=until))
        return items


def _covers(rule: tuple[float, float], issued_at: float | None) -> bool:
    # A token without a usable `iat` cannot show it was issued after the rule: revoked.
    return issued_at is None or issued_at <= rule[0]
