"""Support code for real-browser tests (Playwright + Debian's Chromium).

This is a pytest *plugin module*, not a test file.  It provides:

* :func:`find_chromium` -- locate a Chromium binary (never downloads one).
* Fixtures ``chromium_browser`` (module scope, sync Playwright ``Browser``)
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

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

    from playwright.sync_api import Browser, Page

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


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    """A headless Chromium (Debian's binary) shared by the tests of one module.

    Module scope, not session: while the sync Playwright API is open it leaves its event loop
    marked as running in the main thread, and every later asyncio/anyio test would fail with
    "Runner.run() cannot be called from a running event loop". Keep browser tests in modules of
    their own.
    """
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


from live_server import LiveServer  # noqa: E402  (re-exported for browser tests)

__all__ = ["LiveServer", "chromium_browser", "find_chromium", "page", "snap"]
