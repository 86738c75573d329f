"""The verified-token cache: a cached answer is always the answer verification would give.

Time is a clock the tests control: `time.time` (used by the cache and by `tokens.token()`) and
the clock PyJWT checks `exp`/`nbf` against are patched together, so nothing sleeps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import anyio
import httpx
import jwt
import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send
from tokens import AUDIENCE, ISSUER, OTHER_SECRET, SECRET, settings, token

from asgi_mcp_auth import (
    AuthenticationError,
    Credential,
    MCPAuthMiddleware,
    Principal,
    TokenSource,
    principal_from,
)
from asgi_mcp_auth.credentials.cache import TokenCache
from asgi_mcp_auth.credentials.jwt import JWTVerifier

pytestmark = pytest.mark.anyio

ORIGIN = "https://gw.example.com"
START = 1_800_000_000.0


class Clock:
    """The current Unix time, as the cache, `tokens.token()` and PyJWT see it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.contextmanager
def frozen(clock: Clock) -> Iterator[None]:
    class FrozenDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> FrozenDatetime:
            return cls.fromtimestamp(clock.now, tz)

    with mock.patch.object(time, "time", clock), mock.patch.object(jwt.api_jwt, "datetime", FrozenDatetime):
        yield


@pytest.fixture
def clock() -> Iterator[Clock]:
    current = Clock()
    with frozen(current):
        yield current


class CapturingApp:
    """Answers 200 and keeps the principal of every request it was called for."""

    def __init__(self) -> None:
        self.principals: list[Principal | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.principals.append(principal_from(scope))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class CountingVerifier(JWTVerifier):
    """The real verifier, counting how often it runs, refusing subjects in `denied`."""

    def __init__(self) -> None:
        super().__init__(algorithms=["HS256"], key=SECRET, audience=AUDIENCE)
        self.calls = 0
        self.denied: set[str] = set()

    async def verify(self, credential: Credential) -> Principal:
        self.calls += 1
        principal = await super().verify(credential)
        if principal.subject in self.denied:
            raise AuthenticationError("Token revoked")
        return principal


def header(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def cookie(value: str) -> dict[str, str]:
    # A same-origin request from an allowlisted page: the cookie counts.
    return {"Cookie": f"jwt_token={value}", "Referer": f"{ORIGIN}/admin", "Sec-Fetch-Site": "same-origin"}


def client(app: MCPAuthMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)


# -- identical answers with and without the cache -------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A token recipe, built on the frozen clock: claims with times relative to now, a key,
    a tampering, where the token is sent, and how much later it is sent again."""

    sub: object
    claims: dict[str, Any]
    key: str
    tamper: str
    sources: tuple[str, str, str]  # where each of the three requests carries the token
    later: int

    def token(self) -> str:
        now = int(time.time())
        extra = dict(self.claims)
        for claim in ("exp", "nbf"):
            offset = extra[claim]
            if isinstance(offset, tuple):  # (kind, seconds from now)
                kind, seconds = offset
                extra[claim] = {"int": now + seconds, "float": now + seconds + 0.5, "str": str(now + seconds)}[kind]
        return _tamper(token(self.sub, key=self.key, **extra), self.tamper)  # type: ignore[arg-type]


def _tamper(value: str, how: str) -> str:
    head, payload, signature = value.split(".")
    if how == "signature":
        flipped = "A" if signature[0] != "A" else "B"
        return f"{head}.{payload}.{flipped}{signature[1:]}"
    if how == "payload":
        other = json.dumps({"sub": "mallory", "aud": AUDIENCE, "exp": int(time.time()) + 600}).encode()
        return f"{head}.{jwt.utils.base64url_encode(other).decode()}.{signature}"
    if how == "truncated":
        return value[:-7]
    if how == "alg-none":
        return jwt.encode(jwt.decode(value, options={"verify_signature": False}), "", algorithm="none")
    return value


LIFETIMES = [1, 29, 30, 31, 100, 299, 300, 301, 600, 7200]
PAST = [-3600, -31, -30, -29, -1, 0]
MUTATIONS: dict[str, dict[str, Any]] = {
    "empty sub": {"sub": ""},
    "numeric sub": {"sub": 42},
    "no sub": {"sub": ...},
    "wrong aud": {"aud": "https://other.example.com/mcp"},
    "no aud": {"aud": ...},
    "wrong iss": {"iss": "https://evil.example.com"},
    "no iss": {"iss": ...},
    "no exp": {"exp": ...},
    "wrong key": {"key": OTHER_SECRET},
    "signature": {"tamper": "signature"},
    "payload": {"tamper": "payload"},
    "truncated": {"tamper": "truncated"},
    "alg-none": {"tamper": "alg-none"},
}


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Half valid tokens, half with one defect; times drawn around every boundary."""
    claims: dict[str, Any] = {
        "aud": draw(st.sampled_from([AUDIENCE, [AUDIENCE, "https://other.example.com"]])),
        "iss": ISSUER,
        "exp": (draw(st.sampled_from(["int", "float"])), draw(st.sampled_from(LIFETIMES))),
        "nbf": draw(st.one_of(st.just(...), st.tuples(st.just("int"), st.sampled_from(PAST)))),
        "roles": draw(st.one_of(st.just(...), st.lists(st.sampled_from(["viewer", "developer", "admin", "x"])))),
        "scope": draw(st.sampled_from([..., "tools.read", "openid profile", "tools.read tools.execute"])),
        "email": draw(st.sampled_from([..., "a@example.com"])),
    }
    recipe: dict[str, Any] = {"sub": draw(st.sampled_from(["alice", "bob"])), "key": SECRET, "tamper": "none"}
    defect = draw(st.sampled_from(["none"] * 12 + [*MUTATIONS, "expired", "not yet valid", "string time"]))
    if defect == "expired":
        claims["exp"] = ("int", draw(st.sampled_from(PAST)))
    elif defect == "not yet valid":
        claims["nbf"] = ("int", draw(st.sampled_from([29, 30, 31, 100, 600])))
    elif defect == "string time":
        claims[draw(st.sampled_from(["exp", "nbf"]))] = ("str", draw(st.sampled_from(LIFETIMES)))
    elif defect != "none":
        for name, value in MUTATIONS[defect].items():
            (recipe if name in recipe else claims)[name] = value
    event(f"defect: {defect}")
    return Case(
        claims=claims,
        sources=draw(st.tuples(*[st.sampled_from(["header", "cookie"])] * 3)),
        later=draw(st.sampled_from([0, 1, 29, 31, 101, 301, 700, 8000])),
        **recipe,
    )


Observation = tuple[int, "str | None", str, "Principal | None", "dict[str, Any] | None"]


async def _observe(http: httpx.AsyncClient, app: CapturingApp, credential: str, source: str) -> Observation:
    before = len(app.principals)
    response = await http.get("/tools", headers=header(credential) if source == "header" else cookie(credential))
    principal = app.principals[-1] if len(app.principals) > before else None
    claims = dict(principal.claims) if principal is not None else None
    return response.status_code, response.headers.get("www-authenticate"), response.text, principal, claims


@given(case=cases())
@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_cached_and_uncached_authenticators_give_identical_principals_and_refusals(case: Case) -> None:
    clock = Clock()

    async def run() -> list[tuple[Observation, Observation]]:
        credential = case.token()
        cached_app, uncached_app = CapturingApp(), CapturingApp()
        cached = MCPAuthMiddleware(cached_app, settings=settings(jwt_issuer=ISSUER))
        uncached = MCPAuthMiddleware(uncached_app, settings=settings(jwt_issuer=ISSUER, token_cache_size=0))
        seen: list[tuple[Observation, Observation]] = []
        async with client(cached) as with_cache, client(uncached) as without_cache:
            for step, source in enumerate(case.sources):
                if step == 2:
                    clock.advance(case.later)
                # Later requests are answered from the cache when it holds the token and source.
                seen.append(
                    (
                        await _observe(with_cache, cached_app, credential, source),
                        await _observe(without_cache, uncached_app, credential, source),
                    )
                )
        return seen

    with frozen(clock):
        observations = anyio.run(run)
    event(f"statuses {[pair[0][0] for pair in observations]}")
    for with_cache, without_cache in observations:
        assert with_cache == without_cache


# -- expiry, nbf, sources ---------------------------------------------------------------------------


async def test_a_cached_token_is_refused_once_its_exp_has_passed(clock: Clock) -> None:
    app = CapturingApp()
    middleware = MCPAuthMiddleware(app, settings=settings(jwt_leeway_seconds=0))
    short_lived = token("alice", exp=int(clock.now) + 60)
    async with client(middleware) as http:
        first = await http.get("/tools", headers=header(short_lived))
        clock.advance(59)
        still_valid = await http.get("/tools", headers=header(short_lived))
        clock.advance(1)  # now == exp: expired for PyJWT, and past the cache entry's deadline
        expired = await http.get("/tools", headers=header(short_lived))

    assert (first.status_code, still_valid.status_code, expired.status_code) == (200, 200, 401)
    assert expired.json() == {"detail": "Token expired"}
    assert len(app.principals) == 2


async def test_a_cache_entry_never_outlives_exp_even_within_the_verifiers_leeway(clock: Clock) -> None:
    verifier = CountingVerifier()  # leeway 30 s: PyJWT still accepts the token for 30 s after exp
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(), verifier=verifier)
    short_lived = token("alice", exp=int(clock.now) + 60)
    async with client(middleware) as http:
        await http.get("/tools", headers=header(short_lived))
        await http.get("/tools", headers=header(short_lived))
        calls_before_exp = verifier.calls
        clock.advance(61)
        in_leeway = await http.get("/tools", headers=header(short_lived))
        again = await http.get("/tools", headers=header(short_lived))

    assert calls_before_exp == 1
    assert (in_leeway.status_code, again.status_code) == (200, 200)
    assert verifier.calls == 3  # verified again each time after exp: the cache no longer answers


async def test_a_token_whose_nbf_is_in_the_future_is_refused_every_time_until_nbf(clock: Clock) -> None:
    app = CapturingApp()
    middleware = MCPAuthMiddleware(app, settings=settings(jwt_leeway_seconds=0))
    early = token("alice", nbf=int(clock.now) + 120)
    async with client(middleware) as http:
        refused = [(await http.get("/tools", headers=header(early))).status_code for _ in range(3)]
        clock.advance(120)
        accepted = await http.get("/tools", headers=header(early))

    assert refused == [401, 401, 401]
    assert accepted.status_code == 200
    assert len(middleware.authenticator.cache) == 1


async def test_the_same_token_from_header_and_from_cookie_gives_each_source_its_own_principal(clock: Clock) -> None:
    app = CapturingApp()
    middleware = MCPAuthMiddleware(app, settings=settings())
    shared = token("alice")
    async with client(middleware) as http:
        for headers in (header(shared), cookie(shared), header(shared), cookie(shared)):
            assert (await http.get("/tools", headers=headers)).status_code == 200

    sources = [principal.token_source if principal else None for principal in app.principals]
    assert sources == [TokenSource.HEADER, TokenSource.COOKIE, TokenSource.HEADER, TokenSource.COOKIE]


async def test_a_cookie_that_is_not_usable_is_refused_even_when_the_token_is_cached(clock: Clock) -> None:
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings())
    shared = token("alice")
    async with client(middleware) as http:
        assert (await http.get("/tools", headers=header(shared))).status_code == 200
        no_browser_signal = await http.get("/tools", headers={"Cookie": f"jwt_token={shared}"})

    assert no_browser_signal.status_code == 401


# -- bounds, TTL, what is cached -------------------------------------------------------------------


async def test_the_cache_keeps_at_most_token_cache_size_tokens(clock: Clock) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(token_cache_size=3), verifier=verifier)
    tokens = [token(f"user{i}") for i in range(5)]
    async with client(middleware) as http:
        for value in tokens:
            await http.get("/tools", headers=header(value))
        verified = verifier.calls
        await http.get("/tools", headers=header(tokens[-1]))  # among the 3 most recent
        await http.get("/tools", headers=header(tokens[0]))  # evicted

    assert len(middleware.authenticator.cache) == 3
    assert (verified, verifier.calls) == (5, 6)


async def test_token_cache_size_zero_verifies_every_request(clock: Clock) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(token_cache_size=0), verifier=verifier)
    value = token("alice")
    async with client(middleware) as http:
        statuses = [(await http.get("/tools", headers=header(value))).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert verifier.calls == 3
    assert len(middleware.authenticator.cache) == 0


async def test_a_cache_entry_lives_at_most_token_cache_ttl_seconds(clock: Clock) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(token_cache_ttl_seconds=10), verifier=verifier)
    value = token("alice", exp=int(clock.now) + 3600)
    async with client(middleware) as http:
        await http.get("/tools", headers=header(value))
        clock.advance(9.9)
        await http.get("/tools", headers=header(value))
        clock.advance(0.1)
        await http.get("/tools", headers=header(value))

    assert verifier.calls == 2


async def test_refused_tokens_are_not_cached(clock: Clock) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(), verifier=verifier)
    bad = token("alice", aud="https://other.example.com")
    async with client(middleware) as http:
        statuses = [(await http.get("/tools", headers=header(bad))).status_code for _ in range(2)]

    assert statuses == [401, 401]
    assert verifier.calls == 2
    assert len(middleware.authenticator.cache) == 0


def test_token_cache_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_TOKEN_CACHE_SIZE", "0")
    monkeypatch.setenv("MCP_AUTH_TOKEN_CACHE_TTL_SECONDS", "7.5")
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings())

    assert (middleware.authenticator.cache.maxsize, middleware.authenticator.cache.ttl) == (0, 7.5)


# -- revocation --------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-check", "async-check"])
async def test_is_revoked_runs_on_every_request_cache_hits_included(clock: Clock, asynchronous: bool) -> None:
    revoked: set[str] = set()
    checked: list[str] = []

    def check(principal: Principal) -> bool:
        checked.append(principal.subject)
        return principal.subject in revoked

    async def async_check(principal: Principal) -> bool:
        return check(principal)

    middleware = MCPAuthMiddleware(
        CapturingApp(), settings=settings(), is_revoked=async_check if asynchronous else check
    )
    value = token("alice")
    async with client(middleware) as http:
        before = await http.get("/tools", headers=header(value))
        revoked.add("alice")
        after = await http.get("/tools", headers=header(value))  # the token is cached

    assert (before.status_code, after.status_code) == (200, 401)
    assert after.json() == {"detail": "Token revoked"}
    assert checked == ["alice", "alice"]


async def test_an_is_revoked_check_that_returns_anything_but_false_refuses(clock: Clock) -> None:
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(), is_revoked=lambda principal: None)  # type: ignore[arg-type,return-value]
    async with client(middleware) as http:
        response = await http.get("/tools", headers=header(token("alice")))

    assert response.status_code == 401


async def test_invalidate_makes_the_next_use_of_a_cached_token_verified_again(clock: Clock) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(), verifier=verifier)
    alice, bob = token("alice"), token("bob")
    async with client(middleware) as http:
        await http.get("/tools", headers=header(alice))
        await http.get("/tools", headers=header(bob))
        verifier.denied.update({"alice", "bob"})
        served_from_cache = await http.get("/tools", headers=header(alice))
        middleware.authenticator.invalidate(alice)
        alice_after = await http.get("/tools", headers=header(alice))
        bob_after = await http.get("/tools", headers=header(bob))
        middleware.authenticator.invalidate_all()
        bob_after_all = await http.get("/tools", headers=header(bob))

    assert served_from_cache.status_code == 200
    assert (alice_after.status_code, bob_after.status_code, bob_after_all.status_code) == (401, 200, 401)


async def test_invalidate_forgets_the_token_from_both_sources(clock: Clock) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(), verifier=verifier)
    value = token("alice")
    async with client(middleware) as http:
        await http.get("/tools", headers=header(value))
        await http.get("/tools", headers=cookie(value))
        verifier.denied.add("alice")
        middleware.authenticator.invalidate(value)
        statuses = [(await http.get("/tools", headers=h)).status_code for h in (header(value), cookie(value))]

    assert statuses == [401, 401]


# -- TokenCache itself -------------------------------------------------------------------------------


def test_token_cache_evicts_the_least_recently_used_entry() -> None:
    cache: TokenCache[str, int] = TokenCache(maxsize=2, clock=Clock())
    cache.put("a", 1, expires_at=None)
    cache.put("b", 2, expires_at=None)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3, expires_at=None)

    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_token_cache_does_not_store_an_entry_already_past_exp() -> None:
    clock = Clock()
    cache: TokenCache[str, int] = TokenCache(maxsize=2, clock=clock)
    cache.put("expired", 1, expires_at=clock.now)
    cache.put("overwritten", 2, expires_at=clock.now + 10)
    cache.put("overwritten", 3, expires_at=clock.now - 1)

    assert (len(cache), cache.get("expired"), cache.get("overwritten")) == (0, None, None)


@pytest.mark.parametrize(("maxsize", "ttl"), [(-1, 1.0), (1, 0.0), (1, -5.0)])
def test_token_cache_refuses_a_negative_size_or_a_non_positive_ttl(maxsize: int, ttl: float) -> None:
    with pytest.raises(ValueError, match=r"maxsize|ttl"):
        TokenCache(maxsize=maxsize, ttl=ttl)


@pytest.mark.parametrize("form", ["bearer {}", "BEARER {}", "Bearer  {}", " Bearer {} "], ids=repr)
async def test_every_form_of_a_bearer_header_is_one_cache_entry_and_invalidate_forgets_it(
    clock: Clock, form: str
) -> None:
    verifier = CountingVerifier()
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings(), verifier=verifier)
    value = token("alice")
    async with client(middleware) as http:
        usual = await http.get("/tools", headers=header(value))
        other = await http.get("/tools", headers={"authorization": form.format(value)})
        verifier.denied.add("alice")
        middleware.authenticator.invalidate(value)
        statuses = [
            (await http.get("/tools", headers=h)).status_code
            for h in (header(value), {"authorization": form.format(value)})
        ]

    assert (usual.status_code, other.status_code) == (200, 200)
    assert len(middleware.authenticator.cache) == 0
    assert statuses == [401, 401]


async def test_a_malformed_header_is_refused_even_when_its_token_is_cached(clock: Clock) -> None:
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings())
    value = token("alice")
    async with client(middleware) as http:
        accepted = await http.get("/tools", headers=header(value))
        refused = [
            (await http.get("/tools", headers={b"authorization": raw.encode("latin-1")})).status_code
            for raw in (f"Bearer {value} {value}", f"Basic {value}", f"Bearer {value}\u00e9")
        ]

    assert accepted.status_code == 200
    assert refused == [400, 401, 400]


async def test_an_is_revoked_hook_set_after_start_up_runs_on_cached_tokens_too(clock: Clock) -> None:
    middleware = MCPAuthMiddleware(CapturingApp(), settings=settings())
    value = token("alice")
    async with client(middleware) as http:
        before = await http.get("/tools", headers=header(value))
        middleware.authenticator.is_revoked = lambda principal: principal.subject == "alice"
        after = await http.get("/tools", headers=header(value))  # the token is cached

    assert (before.status_code, after.status_code) == (200, 401)
