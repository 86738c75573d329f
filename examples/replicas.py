"""Run the example gateway as three replicas sharing one Redis, on one machine.

    python -m examples.replicas                  # redis-server on a free port + replicas on 8001-8003
    python -m examples.replicas --replicas 2 --base-port 9001

Needs `redis-server` on the PATH (Debian: `apt-get install redis-server`) and the `redis`
extra (`pip install -e ".[example,redis]"`). Every replica gets the same signing key, audience,
`MCP_AUTH_REVOCATION_REDIS_URL` and `EXAMPLE_REQUEST_STATE_KEY`, so a token signed in on one is
good on all, a logout on one is refused by all, and the MCP SDK's sealed `requestState` minted
on one is accepted by the others. Stateful MCP sessions stay per process: route them stickily
(by `Mcp-Session-Id`) or serve MCP statelessly. Ctrl-C stops everything.

`RedisServer` and `Replica` are also what the tests and `bench/bench_replicas.py` use.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

__all__ = ["Replica", "RedisServer", "free_port", "replica_environment"]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A throw-away `redis-server` on 127.0.0.1: no persistence, `DEBUG` allowed from loopback
    (the tests use `DEBUG SLEEP`). `kill()` and `start()` again keep the port."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.binary = binary
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        command = [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        command += ["--enable-debug-command", "local", "--protected-mode", "yes"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """Send one command (RESP), return the raw reply: for `CLIENT KILL`, `DEBUG SLEEP`..."""
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(arg.encode())}\r\n".encode() + arg.encode() + b"\r\n" for arg in args
        )
        with socket.create_connection((HOST, self.port), timeout=5) as sock:
            sock.sendall(payload)
            return sock.recv(65536)

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-run, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def replica_environment(
    redis_url: str | None, *, secret: str, audience: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What every replica shares: key, audience, the revocation store, the requestState key."""
    env = {
        "MCP_AUTH_JWT_SECRET": secret,
        "MCP_AUTH_JWT_AUDIENCE": audience,
        "EXAMPLE_REQUEST_STATE_KEY": secret,
    }
    if redis_url is not None:
        env["MCP_AUTH_REVOCATION_REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


class Replica:
    """One uvicorn process of the example gateway (`--factory examples.fastapi_app.main:create_app`).

    Its output goes to a temporary file, `log()` reads it (the tests show it when they fail).
    """

    def __init__(self, env: Mapping[str, str], *, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Replica:
        return self.launch().wait_ready()

    def launch(self) -> Replica:
        """Start the process without waiting (start several, then `wait_ready` each)."""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "uvicorn", "--factory", "examples.fastapi_app.main:create_app"]
        command += ["--host", HOST, "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self._log, stderr=self._log)  # noqa: S603
        return self

    def wait_ready(self) -> Replica:
        assert self.process is not None, "launch() first"  # noqa: S101
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica on port {self.port} exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica on port {self.port} did not start:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Replica:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The example gateway as several replicas sharing one Redis.")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--base-port", type=int, default=8001)
    args = parser.parse_args(argv)
    secret = os.environ.get("MCP_AUTH_JWT_SECRET") or secrets.token_urlsafe(48)
    ports = [args.base_port + number for number in range(args.replicas)]
    # One audience for all: the address a load balancer in front of them would have.
    audience = os.environ.get("MCP_AUTH_JWT_AUDIENCE", f"http://{HOST}:{ports[0]}/mcp")
    with RedisServer() as redis_server:
        env = replica_environment(redis_server.url, secret=secret, audience=audience)
        replicas = [Replica(env, port=port).launch() for port in ports]
        for replica in replicas:
            replica.wait_ready()
        try:
            print(f"\nredis-server  {redis_server.url}")
            for replica in replicas:
                print(f"replica       {replica.url}/admin/login   (admin / adminpass)")
            print("\nSign in on one replica, copy the cookie or a bearer token to another, sign out: every")
            print("replica refuses the token at once. Ctrl-C stops everything.\n", flush=True)
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            for replica in replicas:
                replica.stop()


if __name__ == "__main__":
    main()
