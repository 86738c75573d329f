"""`RedisRevocationStore` (see the package docstring for how it works)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ...core.errors import AuthenticationError, ServiceUnavailable
from ...credentials.revocation import REVOKED_MESSAGE, Revocation, RevocationKey, RevocationState
from ...settings import AuthSettings
from .script import REVOKE_SCRIPT, RevocationStats

__all__ = ["RedisRevocationStore", "RevocationStats"]

logger = logging.getLogger("asgi_mcp_auth.revocation")
LOG_OUTAGE = "Revocation store unreachable (%s): %s"
LOG_RECOVERED = "Revocation store reachable again after %.1f s"
LOG_UNCHECKED = "Serving requests whose revocation cannot be checked (REVOCATION_FAILURE=open)"
LOG_BAD_ENTRY = "Ignoring %d revocation entries this version cannot read"

UNAVAILABLE_MESSAGE = "Revocation state unavailable"
FailureMode = Literal["closed", "open"]

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
_RETRY_MIN, _RETRY_MAX = 0.05, 1.0


class RedisRevocationStore:
    """A `RevocationStore` shared through Redis; see the module docstring.

    Build one per process (each uvicorn worker builds its own through the middleware); run
    `start()` from the application's lifespan, or let the first request start it; `aclose()`
    on shutdown. `clock` is the Unix time used for `until`/`iat` decisions (tests inject one).
    """

    def __init__(
        self,
        url: str,
        *,
        failure: FailureMode = "closed",
        poll_seconds: float = 5.0,
        connect_timeout: float = 1.0,
        command_timeout: float = 0.5,
        key_prefix: str = "asgi-mcp-auth:revocation",
        clock: Callable[[], float] | None = None,
    ) -> None:
        if failure not in ("closed", "open"):
            raise ValueError("failure must be 'closed' or 'open'")
        self.failure: FailureMode = failure
        self.poll_seconds = poll_seconds
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.retry_after = max(1, math.ceil(poll_seconds))
        self._entries_key = f"{key_prefix}:entries"
        self._generation_key = f"{key_prefix}:generation"
        self._channel = f"{key_prefix}:events"
        self._clock = clock if clock is not None else time.time
        # No retries inside the client: a failed call fails within its timeout, and the loops
        # below decide when to try again.
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._revoke = self._redis.register_script(REVOKE_SCRIPT)
        self.state = RevocationState(clock=self._clock)
        self.stats = RevocationStats()
        self._generation: int | None = None
        self._trusted_until = 0.0  # time.monotonic() until which the copy is vouched for
        self._outage_since: float | None = None
        self._warned_unchecked = False
        self._tasks: list[asyncio.Task[None]] = []
        # Since Python 3.10 an Event binds to the running loop on first use, not here.
        self._wake = asyncio.Event()  # re-sync now (a gap, a reconnect)
        self._synced = asyncio.Event()  # the first sync succeeded

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> RedisRevocationStore:
        """The store `MCP_AUTH_REVOCATION_*` describe (`REVOCATION_REDIS_URL` must be set)."""
        if settings.revocation_redis_url is None:
            raise ValueError("revocation_redis_url is not set")
        return cls(
            settings.revocation_redis_url.get_secret_value(),
            failure=settings.revocation_failure,
            poll_seconds=settings.revocation_poll_seconds,
            connect_timeout=settings.revocation_connect_timeout_seconds,
            command_timeout=settings.revocation_command_timeout_seconds,
            key_prefix=settings.revocation_key_prefix,
        )

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return (
            f"RedisRevocationStore(failure={self.failure!r}, poll_seconds={self.poll_seconds}, "
            f"revocations={len(self.state)}, trusted={self.trusted})"
        )

    @property
    def trusted(self) -> bool:
        """True while the in-memory copy is recent enough to vouch for."""
        return time.monotonic() < self._trusted_until

    # -- the request path --------------------------------------------------------------------

    def check(self, key: RevocationKey) -> None:
        """Raise for a revoked token (401) or, in closed mode, an unvouched state (503)."""
        if self.state.is_revoked(key):
            raise AuthenticationError(REVOKED_MESSAGE)
        if time.monotonic() < self._trusted_until:
            return
        if self.failure == "closed":
            self.stats.refused_unavailable += 1
            raise ServiceUnavailable(UNAVAILABLE_MESSAGE, retry_after=self.retry_after)
        self.stats.unchecked += 1
        if not self._warned_unchecked:
            self._warned_unchecked = True
            logger.warning(LOG_UNCHECKED)

    async def revoke(self, revocation: Revocation) -> None:
        """Apply `revocation` here at once, then store and publish it for every replica.

        Raises `ServiceUnavailable` when Redis cannot be reached within the timeouts: this
        replica refuses the token already, the others do not know it yet.
        """
        self.state.add(revocation)
        try:
            await self._bounded(
                self._revoke(
                    keys=[self._entries_key, self._generation_key, self._channel],
                    args=[repr(self._clock()), repr(revocation.until), revocation.to_json()],
                )
            )
        except _REDIS_FAILURES as exc:
            logger.warning(LOG_OUTAGE, "revoke", type(exc).__name__)
            raise ServiceUnavailable("Revocation could not be shared", retry_after=self.retry_after) from None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the subscriber and the poller (once), and wait for the first sync, at most the
        connect plus the command timeout. Returns either way: until a sync succeeds, requests
        get the failure mode's answer."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._poll_forever(), name="asgi-mcp-auth revocation poller"),
                asyncio.create_task(self._subscribe_forever(), name="asgi-mcp-auth revocation subscriber"),
            ]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._synced.wait(), self.connect_timeout + self.command_timeout)

    async def aclose(self) -> None:
        """Stop the background tasks and close the connections."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()

    async def __aenter__(self) -> RedisRevocationStore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- background ----------------------------------------------------------------------------

    async def _bounded(self, call: Awaitable[Any]) -> Any:
        # The socket timeouts bound each read; this bounds the whole call (connect included).
        return await asyncio.wait_for(call, self.connect_timeout + self.command_timeout)

    async def _poll_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._sync()
            except _REDIS_FAILURES as exc:
                self.stats.sync_failures += 1
                self._outage(exc)
                delay = min(self.poll_seconds, _RETRY_MAX)
            else:
                self.stats.syncs += 1
                self._trusted_until = started + self.poll_seconds + 2 * self.command_timeout
                self._synced.set()
                self._recovered()
                delay = self.poll_seconds
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _sync(self) -> None:
        """One poll: read the generation; re-read the whole set when it is not ours."""
        raw = await self._bounded(self._redis.get(self._generation_key))
        generation = int(raw or 0)
        if generation == self._generation:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrangebyscore(self._entries_key, repr(self._clock()), "+inf")
            pipe.get(self._generation_key)
            members, raw = await self._bounded(pipe.execute())
        unreadable = 0
        for member in members:
            try:
                self.state.add(Revocation.from_json(member))
            except ValueError:
                unreadable += 1
        if unreadable:
            logger.warning(LOG_BAD_ENTRY, unreadable)
        # Merged, never replaced: a Redis that lost its data (restarted without persistence)
        # cannot make this replica forget what it knew.
        self.state.prune()
        self._generation = int(raw or 0)
        self.stats.full_syncs += 1

    async def _subscribe_forever(self) -> None:
        delay = _RETRY_MIN
        first = True
        while True:
            pubsub: PubSub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await self._bounded(pubsub.subscribe(self._channel))
                if not first:
                    self.stats.reconnects += 1
                    self._wake.set()  # what was published while unsubscribed was missed: re-sync
                first = False
                delay = _RETRY_MIN
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply(message["data"])
            except _REDIS_FAILURES as exc:
                self._outage(exc)
            finally:
                with contextlib.suppress(*_REDIS_FAILURES):
                    await asyncio.wait_for(pubsub.aclose(), self.command_timeout)  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)

    def _apply(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        head, _, entry = text.partition(" ")
        try:
            generation = int(head)
            revocation = Revocation.from_json(entry)
        except ValueError:
            logger.warning(LOG_BAD_ENTRY, 1)
            return
        self.state.add(revocation)
        self.stats.messages += 1
        if self._generation is not None and generation == self._generation + 1:
            self._generation = generation
        elif self._generation is None or generation > self._generation:
            self._wake.set()  # a gap: something was missed, read the whole set

    def _outage(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            logger.warning(LOG_OUTAGE, "sync", type(exc).__name__)

    def _recovered(self) -> None:
        if self._outage_since is not None:
            logger.warning(LOG_RECOVERED, time.monotonic() - self._outage_since)
            self._outage_since = None
            self._warned_unchecked = False
