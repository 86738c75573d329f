"""`serve(app)`: an ASGI app under a real uvicorn on 127.0.0.1, in a thread of this process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["serve"]


@contextlib.contextmanager
def serve(app: Any, *, startup_timeout: float = 15.0, **config: Any) -> Iterator[str]:
    """Run `app` (lifespan included) under uvicorn on a free loopback port; yields the base URL.

    The socket is bound before uvicorn starts, so the port is known and never raced for; the
    context is entered only once the lifespan has started. Errors at start-up are raised here.
    """
    import uvicorn  # the [testing] extra; imported here so the plugin loads without it

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = int(sock.getsockname()[1])
    options: dict[str, Any] = {"log_level": "warning", "log_config": None, "timeout_graceful_shutdown": 2}
    options.update(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **options))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from a failed lifespan included
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"asgi-mcp-auth-serve:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}") from (failure[0] if failure else None)
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        sock.close()
