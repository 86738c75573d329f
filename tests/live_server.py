"""`LiveServer`: an ASGI app under a real uvicorn on 127.0.0.1, in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp


class LiveServer:
    """Run an ASGI app under real uvicorn on 127.0.0.1 in a background thread.

    Usage::

        with LiveServer(app) as base_url:   # e.g. "http://127.0.0.1:43521"
            page.goto(base_url + "/")

    The listening socket is bound by us (port 0 unless *port* is given) and
    handed to uvicorn, so the port is known up front and there is no race for
    it; several servers can run at once.  ``__enter__`` returns only once the
    lifespan startup has completed and the socket accepts connections, and
    re-raises any error raised while starting.  An app that must know its own URL (an OAuth
    resource naming itself) comes from ``LiveServer(factory=lambda base_url: app)``, called once
    the port is bound and before uvicorn starts.  ``__exit__`` sets
    ``should_exit``, joins the thread (forcing exit after *shutdown_timeout*)
    and re-raises errors from the server thread.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        factory: Callable[[str], ASGIApp] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off", "auto"] = "on",
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        **config_kwargs: Any,
    ) -> None:
        if (app is None) == (factory is None):
            raise TypeError("LiveServer needs exactly one of app and factory")
        self.app = app
        self.factory = factory
        self.host = host
        self.requested_port = port
        self.lifespan = lifespan
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.config_kwargs = config_kwargs
        self.port: int | None = None
        self.server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("LiveServer is not running")
        return f"http://{self.host}:{self.port}"

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # includes SystemExit from a failed lifespan
            self._error = exc

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError("LiveServer already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
        except BaseException:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])

        options: dict[str, Any] = {
            "log_level": "warning",
            # Don't reconfigure the process' logging; uvicorn's records
            # propagate to the root logger, which pytest captures.
            "log_config": None,
            "timeout_graceful_shutdown": 3,
        }
        options.update(self.config_kwargs)
        if self.factory is not None:
            try:
                self.app = self.factory(self.base_url)
            except BaseException:
                sock.close()
                raise
        assert self.app is not None  # exactly one of app and factory, checked in __init__
        config = uvicorn.Config(self.app, host=self.host, port=self.port, lifespan=self.lifespan, **options)
        server = uvicorn.Server(config)
        self.server = server
        thread = threading.Thread(target=self._run, args=(server, sock), name=f"LiveServer:{self.port}", daemon=True)
        self._thread = thread
        thread.start()

        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive():
                sock.close()
                raise RuntimeError(f"uvicorn exited during startup on {self.base_url}") from (self._error)
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"uvicorn did not start within {self.startup_timeout}s")
            time.sleep(0.01)
        # Belt and braces: the socket must accept a TCP connection.
        with socket.create_connection((self.host, self.port), timeout=self.startup_timeout):
            pass
        return self.base_url

    def stop(self) -> None:
        server, thread = self.server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(self.shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(self.shutdown_timeout)
        self._thread = None
        if thread.is_alive():
            raise RuntimeError(f"uvicorn on {self.base_url} did not shut down")
        error, self._error = self._error, None
        if error is not None and not (isinstance(error, SystemExit) and not error.code):
            raise RuntimeError(f"uvicorn on {self.base_url} crashed") from error

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
        else:
            # Don't mask the test's own exception with a shutdown problem.
            with contextlib.suppress(Exception):
                self.stop()
