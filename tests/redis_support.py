"""A real `redis-server` for the tests (not a test module): started on a free port, stopped after.

`.ci/run` installs the Debian package when it is missing; without it the fixture fails (never
skips), so a machine that cannot run these tests says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from examples.replicas import RedisServer

__all__ = ["redis_server"]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server (.ci/run does this)")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
