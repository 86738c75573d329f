"""Revocation state and the in-process store: what is refused, for how long, and what is not."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from apps import RecordingApp
from tokens import ISSUER, settings, token

from asgi_mcp_auth import (
    AuthenticationError,
    ConfigurationError,
    InMemoryRevocationStore,
    MCPAuthMiddleware,
    Principal,
    Revocation,
)
from asgi_mcp_auth.credentials.revocation import RevocationKey, RevocationState, revocation_key, store_from_settings

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def principal(sub: str = "alice", **claims: Any) -> Principal:
    values: dict[str, Any] = {"sub": sub, "iss": ISSUER, "iat": NOW - 10, "exp": NOW + 600, **claims}
    return Principal(
        subject=sub,
        issuer=values.get("iss"),
        client_id=values.get("client_id"),
        expires_at=values.get("exp"),
        claims=values,
    )


def key(sub: str = "alice", *, raw: str | None = "raw-token", **claims: Any) -> RevocationKey:
    return revocation_key(principal(sub, **claims), raw)


def test_a_revoked_jti_is_refused_and_another_jti_of_the_same_subject_is_not() -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_token(key(jti="one")))
    assert state.is_revoked(key(jti="one"))
    assert not state.is_revoked(key(jti="two"))


def test_a_jti_is_scoped_by_its_issuer() -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_token(key(jti="one")))
    assert not state.is_revoked(key(jti="one", iss="https://other-idp.example.com"))


def test_a_token_without_jti_is_revoked_by_its_hash() -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_token(key(raw="token-a")))
    assert state.is_revoked(key(raw="token-a"))
    assert not state.is_revoked(key(raw="token-b"))


@pytest.mark.parametrize(
    ("issued_at", "revoked"),
    [
        (NOW - 3600, True),  # long before
        (NOW, True),  # the same moment: "at or before"
        (NOW + 1, False),  # signed in again afterwards
        (..., True),  # no iat: cannot show it came later
        ("yesterday", True),  # an iat that is not a number counts as none
    ],
)
def test_a_subject_revocation_covers_tokens_issued_at_or_before_its_moment(issued_at: Any, revoked: bool) -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_subject("alice", issuer=ISSUER, before=NOW))
    claims: dict[str, Any] = {"iat": issued_at} if issued_at is not ... else {"iat": None}
    assert state.is_revoked(key(**claims)) is revoked
    assert not state.is_revoked(key("bob", **claims))


def test_a_subject_revocation_is_scoped_by_issuer() -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_subject("alice", issuer="https://other-idp.example.com", before=NOW))
    assert not state.is_revoked(key())


def test_a_client_revocation_covers_every_subject_of_that_client() -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_client("ci-bot", issuer=ISSUER, before=NOW))
    assert state.is_revoked(key("alice", client_id="ci-bot"))
    assert state.is_revoked(key("bob", client_id="ci-bot"))
    assert not state.is_revoked(key("alice", client_id="other"))
    assert not state.is_revoked(key("alice"))


def test_revocations_are_forgotten_with_the_tokens_they_cover() -> None:
    clock = Clock()
    state = RevocationState(clock=clock)
    state.add(Revocation.of_token(key(jti="one", exp=NOW + 60)))
    state.add(Revocation.of_subject("alice", issuer=ISSUER, before=NOW, lifetime=120))
    assert len(state) == 2
    clock.now = NOW + 61
    assert state.prune() == 1
    clock.now = NOW + 121
    assert state.prune() == 1
    assert len(state) == 0


def test_an_already_expired_revocation_is_not_stored() -> None:
    state = RevocationState(clock=Clock())
    assert not state.add(Revocation.of_token(key(jti="one", exp=NOW - 1)))
    assert len(state) == 0


def test_merging_keeps_the_latest_moment_and_the_longest_life() -> None:
    state = RevocationState(clock=Clock())
    state.add(Revocation.of_subject("alice", issuer=ISSUER, before=NOW + 10, lifetime=100))
    state.add(Revocation.of_subject("alice", issuer=ISSUER, before=NOW, lifetime=1000))
    assert state.is_revoked(key(iat=NOW + 5))
    (rule,) = state.revocations()
    assert (rule.before, rule.until) == (NOW + 10, NOW + 1000)


@pytest.mark.parametrize(
    "revocation",
    [
        Revocation.of_token(RevocationKey("d" * 64, (ISSUER, "alice"), None, NOW, NOW + 60)),
        Revocation.of_subject("alice", issuer=ISSUER, before=NOW),
        Revocation.of_client("ci-bot", before=NOW, lifetime=5),
    ],
)
def test_a_revocation_survives_its_wire_form(revocation: Revocation) -> None:
    assert Revocation.from_json(revocation.to_json()) == revocation


@pytest.mark.parametrize(
    "text",
    ["", "null", "[]", '{"k":"token"}', '{"k":"token","u":"soon","t":"x"}', '{"k":"subject","u":1,"n":"a"}',
     '{"k":"nope","u":1}', '{"k":"token","u":NaN,"t":"x"}', "[" * 10_000],
)  # fmt: skip
def test_anything_else_on_the_wire_is_refused_as_a_revocation(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - one error type for every malformed entry
        Revocation.from_json(text)


def test_a_subject_revocation_needs_a_name() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        Revocation.of_subject("")


async def test_the_in_memory_store_refuses_a_revoked_key_with_401() -> None:
    store = InMemoryRevocationStore()
    await store.revoke(Revocation.of_token(key(jti="one", exp=time.time() + 60)))
    with pytest.raises(AuthenticationError, match="Token revoked"):
        store.check(key(jti="one"))
    store.check(key(jti="two"))


def test_without_a_redis_url_the_store_is_the_in_memory_one() -> None:
    assert isinstance(store_from_settings(settings()), InMemoryRevocationStore)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis:/x"])
def test_a_redis_url_of_another_scheme_is_a_configuration_error_that_does_not_echo_it(url: str) -> None:
    with pytest.raises(ConfigurationError, match="REVOCATION_REDIS_URL") as raised:
        settings(revocation_redis_url=url + "?password=hunter2")
    assert "hunter2" not in str(raised.value)


async def test_a_logout_through_the_authenticator_refuses_the_cached_token_at_once() -> None:
    middleware = MCPAuthMiddleware(RecordingApp(), settings=settings())
    alice, other = token("alice", jti="a1"), token("alice", jti="a2")
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.example.com") as http:
        for bearer in (alice, other):
            assert (await http.get("/tools", headers={"Authorization": f"Bearer {bearer}"})).status_code == 200
        identity = await middleware.authenticator.identify(
            {"type": "http", "path": "/tools", "headers": [(b"authorization", f"Bearer {alice}".encode())]}
        )
        await middleware.authenticator.revoke(identity)
        refused = await http.get("/tools", headers={"Authorization": f"Bearer {alice}"})
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Token revoked"}
        assert (await http.get("/tools", headers={"Authorization": f"Bearer {other}"})).status_code == 200


async def test_sign_out_everywhere_refuses_earlier_tokens_and_accepts_a_later_one() -> None:
    middleware = MCPAuthMiddleware(RecordingApp(), settings=settings())
    now = int(time.time())
    earlier = token("alice", iat=now - 5)
    later = token("alice", iat=now + 5)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.example.com") as http:
        await middleware.authenticator.revoke(Revocation.of_subject("alice", before=now))
        assert (await http.get("/tools", headers={"Authorization": f"Bearer {earlier}"})).status_code == 401
        assert (await http.get("/tools", headers={"Authorization": f"Bearer {later}"})).status_code == 200
        assert (await http.get("/tools", headers={"Authorization": f"Bearer {token('bob')}"})).status_code == 200


async def test_revoking_a_client_refuses_all_its_tokens() -> None:
    middleware = MCPAuthMiddleware(RecordingApp(), settings=settings())
    bot = token("alice", client_id="ci-bot", iat=int(time.time()) - 5)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.example.com") as http:
        assert (await http.get("/tools", headers={"Authorization": f"Bearer {bot}"})).status_code == 200
        await middleware.authenticator.revoke(Revocation.of_client("ci-bot"))
        assert (await http.get("/tools", headers={"Authorization": f"Bearer {bot}"})).status_code == 401
