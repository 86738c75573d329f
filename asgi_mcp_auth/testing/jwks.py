"""`JWKSServer`: an identity provider's key set served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .keys import SigningKey

__all__ = ["JWKSServer"]

JWKS_PATH = "/.well-known/jwks.json"


class JWKSServer:
    """Serves `{"keys": [...]}` at `url` from a thread; `publish(...)` replaces the keys
    (a rotation), `requests` counts fetches. Use as a context manager, or `start()`/`stop()`."""

    def __init__(self, *keys: SigningKey) -> None:
        self._keys: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.publish(*keys)

    def publish(self, *keys: SigningKey) -> None:
        published = [key.jwk for key in keys if key.jwk is not None]
        if len(published) != len(keys):
            raise ValueError("HMAC keys are secrets and cannot be published in a JWKS")
        with self._lock:
            self._keys = published

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("JWKSServer is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{JWKS_PATH}"

    def _body(self) -> bytes:
        with self._lock:
            self.requests += 1
            return json.dumps({"keys": self._keys}).encode()

    def start(self) -> str:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                body = owner._body()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="JWKSServer", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> JWKSServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
