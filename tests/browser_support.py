"""Support code for real-browser tests (Playwright + Debian's Chromium).

This is a pytest *plugin module*, not a test file.  It provides:

* :func:`find_chromium` -- locate a Chromium binary (never downloads one).
* Fixtures ``chromium_browser`` (session scope, sync Playwright ``Browser``)
  and ``page`` (a fresh ``BrowserContext`` + ``Page`` per test, screenshot
  saved to ``test-artifacts/<test name>.png`` when the test fails).
* The hook :func:`pytest_runtest_makereport`, which records each phase's
  report on the test item so the ``page`` fixture can tell whether the test
  failed.  The hook only takes effect when this module is registered as a
  plugin (see below); without it no failure screenshots are taken.
* :func:`snap` -- take an explicit screenshot into ``test-artifacts/``.
* :class:`LiveServer` -- run an ASGI app under a real uvicorn on 127.0.0.1
  in a background thread.

Registering the fixtures and the hook
-------------------------------------
Register the module as a plugin so that pytest picks up *both* the fixtures
and the hook, in ``tests/conftest.py`` (or in a test module)::

    pytest_plugins = ["browser_support"]

``tests/`` has no ``__init__.py``, so pytest (default "prepend" import mode)
puts ``tests/`` itself on ``sys.path`` and this module is importable as
``browser_support`` -- which is also the module name mypy gives it.  If
``tests/`` ever becomes a package, use ``"tests.browser_support"`` instead.
Importing the fixture functions by name into a conftest also works for the
fixtures, but then ``pytest_runtest_makereport`` must be imported there too,
or failure screenshots silently stop -- ``pytest_plugins`` is simpler.

Environment
-----------
``CHROMIUM_PATH``       explicit path to the Chromium binary.
``CI``                  when ``"true"``, a missing Chromium fails the test
                        instead of skipping it.
``TEST_ARTIFACTS_DIR``  overrides the screenshot directory (default:
                        ``<repo root>/test-artifacts``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import pytest
import uvicorn

if TYPE_CHECKING:
    from collections.abc import Generator

    from playwright.sync_api import Browser, Page
    from starlette.types import ASGIApp

__all__ = [
    "CHROMIUM_ARGS",
    "LiveServer",
    "artifacts_dir",
    "chromium_browser",
    "find_chromium",
    "page",
    "pytest_runtest_makereport",
    "snap",
]

#: Flags Chromium needs on this (network-less, root, GPU-less) machine.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: Default Playwright timeout (ms) for pages created by the ``page`` fixture.
DEFAULT_TIMEOUT_MS = 10_000

_REPO_ROOT = Path(__file__).resolve().parent.parent
_REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()


# --------------------------------------------------------------------------
# Chromium discovery
# --------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Return the path of a Chromium binary, or ``None`` if there is none.

    Order: ``$CHROMIUM_PATH``, ``/usr/bin/chromium``, then ``chromium`` /
    ``chromium-browser`` on ``$PATH``.
    """
    env_path = os.environ.get("CHROMIUM_PATH")
    if env_path:
        return env_path if os.access(env_path, os.X_OK) else None
    default = "/usr/bin/chromium"
    if os.access(default, os.X_OK):
        return default
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing_browser(reason: str) -> NoReturn:
    """Fail on CI (``CI=true``), skip elsewhere.  Never returns."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must not be skipped)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------
# Artifacts / screenshots
# --------------------------------------------------------------------------


def artifacts_dir() -> Path:
    """Directory for screenshots (created on demand)."""
    override = os.environ.get("TEST_ARTIFACTS_DIR")
    path = Path(override) if override else _REPO_ROOT / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned or "screenshot"


def snap(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of *page* to ``test-artifacts/<name>.png``; return its path."""
    stem = name[:-4] if name.lower().endswith(".png") else name
    target = artifacts_dir() / f"{_safe_name(stem)}.png"
    page.screenshot(path=str(target), full_page=full_page)
    return target


# --------------------------------------------------------------------------
# Hook + fixtures
# --------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Store the setup/call/teardown reports on ``item.stash``."""
    report = yield
    item.stash.setdefault(_REPORTS_KEY, {})[report.when] = report
    return report


def _test_failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORTS_KEY, {})
    return any(rep.failed for when, rep in reports.items() if when in ("setup", "call"))


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """A headless Chromium (Debian's binary) shared by the whole session."""
    executable = find_chromium()
    if executable is None:
        env_path = os.environ.get("CHROMIUM_PATH")
        where = f"CHROMIUM_PATH={env_path!r} is not executable" if env_path else "not found"
        _missing_browser(
            f"Chromium {where}: set CHROMIUM_PATH or install Debian's `chromium` "
            "package (/usr/bin/chromium). Playwright's bundled browsers are not used."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        _missing_browser("The `playwright` Python package is not installed.")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; screenshot on failure."""
    context = chromium_browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        try:
            if _test_failed(request.node) and not pg.is_closed():
                path = snap(pg, request.node.name)
                print(f"\n[browser_support] failure screenshot: {path}")
        finally:
            context.close()


# --------------------------------------------------------------------------
# Live uvicorn server
# --------------------------------------------------------------------------


class LiveServer:
    """Run an ASGI app under real uvicorn on 127.0.0.1 in a background thread.

    Usage::

        with LiveServer(app) as base_url:   # e.g. "http://127.0.0.1:43521"
            page.goto(base_url + "/")

    The listening socket is bound by us (port 0 unless *port* is given) and
    handed to uvicorn, so the port is known up front and there is no race for
    it; several servers can run at once.  ``__enter__`` returns only once the
    lifespan startup has completed and the socket accepts connections, and
    re-raises any error raised while starting.  ``__exit__`` sets
    ``should_exit``, joins the thread (forcing exit after *shutdown_timeout*)
    and re-raises errors from the server thread.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off", "auto"] = "on",
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        **config_kwargs: Any,
    ) -> None:
        self.app = app
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
        config = uvicorn.Config(self.app, host=self.host, port=self.port, lifespan=self.lifespan, **options)
        server = uvicorn.Server(config)
        self.server = server
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=f"LiveServer:{self.port}", daemon=True
        )
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
