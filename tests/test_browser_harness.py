"""Demo / self-test of tests/browser_support.py (real Chromium + real uvicorn)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

# Registers the fixtures (chromium_browser, page) *and* the
# pytest_runtest_makereport hook; pytester is used for the failure-screenshot test.
# (tests/conftest.py doing the same would make the "browser_support" entry unnecessary.)
pytest_plugins = ["pytester", "browser_support"]
# We import from the plugin module before pytest registers it; mark it for
# assertion rewriting first so pytest doesn't warn "Module already imported".
pytest.register_assert_rewrite("browser_support")

from browser_support import LiveServer, snap  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page

_LOOPBACK_ORIGIN = re.compile(r"^http://127\.0\.0\.1:\d+$")

_PAGE_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
  <h1>{title}</h1>
  <button id="load">Load</button>
  <pre id="result">(nothing yet)</pre>
  <script>
    document.getElementById("load").addEventListener("click", async () => {{
      const out = document.getElementById("result");
      try {{
        const resp = await fetch({url}, {{credentials: "same-origin"}});
        const data = await resp.json();
        out.textContent =
          `${{data.message}} lifespan=${{data.lifespan}} cookie=${{data.cookie}}`;
      }} catch (err) {{
        out.textContent = "error: " + err;
      }}
    }});
  </script>
</body></html>
"""


def _page_html(title: str, url: str) -> str:
    return _PAGE_TEMPLATE.format(title=title, url=json.dumps(url))


class ApiServerApp:
    """Server 1: a page + a JSON endpoint that records what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str | None]] = []
        self.lifespan_events: list[str] = []
        self.app = Starlette(
            routes=[Route("/", self.index), Route("/api/whoami", self.whoami)],
            lifespan=self.lifespan,
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[dict[str, Any]]:
        self.lifespan_events.append("startup")
        yield {"lifespan_ran": True}
        self.lifespan_events.append("shutdown")

    async def index(self, request: Request) -> Response:
        resp = HTMLResponse(_page_html("server one", "/api/whoami"))
        resp.set_cookie("session", "s3cret", path="/", samesite="lax", httponly=True)
        return resp

    async def whoami(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        cookie = request.cookies.get("session")
        self.seen.append({"origin": origin, "cookie": cookie})
        body = {
            "message": "hello from server one",
            "lifespan": bool(getattr(request.state, "lifespan_ran", False)),
            "cookie": cookie,
        }
        headers: dict[str, str] = {"Vary": "Origin"}
        if origin is not None and _LOOPBACK_ORIGIN.match(origin):
            headers["Access-Control-Allow-Origin"] = origin
        return JSONResponse(body, headers=headers)


def make_caller_app(target_url: str) -> Starlette:
    """Server 2: a page whose button fetches *target_url* (cross-origin)."""

    async def index(request: Request) -> Response:
        return HTMLResponse(_page_html("server two", target_url))

    return Starlette(routes=[Route("/", index)])


@pytest.mark.browser
def test_same_origin_and_cross_origin_fetch(page: Page) -> None:
    api = ApiServerApp()
    with LiveServer(api.app) as url1:
        assert api.lifespan_events == ["startup"]

        # --- same origin: page from server 1 fetches server 1 -------------
        page.goto(url1 + "/")
        page.click("#load")
        result = page.locator("#result")
        result.filter(has_text="hello").wait_for()
        assert result.text_content() == "hello from server one lifespan=true cookie=s3cret"
        shot = snap(page, "browser_harness_same_origin")
        assert shot.read_bytes().startswith(b"\x89PNG")
        # A same-origin GET carries the cookie and no Origin header.
        assert api.seen == [{"origin": None, "cookie": "s3cret"}]

        # --- cross origin: page from server 2 fetches server 1 ------------
        with LiveServer(make_caller_app(url1 + "/api/whoami")) as url2:
            assert url1 != url2
            page.goto(url2 + "/")
            page.click("#load")
            result.filter(has_text="hello").wait_for()
            # credentials: "same-origin" => no cookie on the cross-origin call.
            assert result.text_content() == "hello from server one lifespan=true cookie=null"
            snap(page, "browser_harness_cross_origin")

        assert len(api.seen) == 2
        assert api.seen[1] == {"origin": url2, "cookie": None}
    assert api.lifespan_events == ["startup", "shutdown"]


def test_two_live_servers_without_browser() -> None:
    one, two = ApiServerApp(), ApiServerApp()
    with LiveServer(one.app) as url1, LiveServer(two.app) as url2:
        assert url1 != url2
        for url in (url1, url2):
            assert httpx.get(url + "/api/whoami", timeout=5).json()["lifespan"] is True
    assert one.lifespan_events == two.lifespan_events == ["startup", "shutdown"]


@pytest.mark.browser
def test_failure_screenshot_is_saved(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The ``page`` fixture screenshots a failing test into the artifacts dir."""
    tests_dir = Path(__file__).resolve().parent
    artifacts = tmp_path / "artifacts"
    pytester.makepyfile(
        test_inner="""
        pytest_plugins = ["browser_support"]

        def test_boom(page):
            page.set_content("<h1>boom</h1>")
            assert page.text_content("h1") == "not boom"

        def test_ok(page):
            page.set_content("<h1>fine</h1>")
        """
    )
    pythonpath = os.pathsep.join(p for p in (str(tests_dir), os.environ.get("PYTHONPATH", "")) if p)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", pythonpath)
        mp.setenv("TEST_ARTIFACTS_DIR", str(artifacts))
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    shot = artifacts / "test_boom.png"
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert not (artifacts / "test_ok.png").exists()
