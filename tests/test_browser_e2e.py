"""The example gateway in a real browser (headless Chromium) on a real server (uvicorn, loopback).

What a user of the admin portal does, end to end: sign in through the form, press "Fetch Tools"
on /admin and on the OAuth success page (seed 003), see the tools, or a readable refusal. A page
on another origin that posts to the API with the victim's cookie is refused (CSRF).

Sites and origins on loopback: Chromium treats `127.0.0.1` and `localhost` as different SITES;
two ports of `127.0.0.1` are different ORIGINS of the same site, so a request between them says
`Sec-Fetch-Site: same-site` and carries SameSite=Lax cookies. Both facts are asserted below.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from browser_support import LiveServer, snap
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tokens import settings

from examples.fastapi_app.gateways import GatewayRegistry
from examples.fastapi_app.main import create_app
from examples.fastapi_app.users import parse_dev_users

pytestmark = pytest.mark.browser

USERS = parse_dev_users("admin:adminpass:admin,viewer:viewerpass:viewer")


@dataclass(frozen=True)
class Seen:
    """One request the gateway answered, as the server saw it."""

    method: str
    path: str
    query: str
    status: int
    origin: str | None
    referer: str | None
    fetch_site: str | None
    has_cookie: bool


class Recorder:
    """Outermost ASGI wrapper: records each HTTP request's headers and response status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._seen: list[Seen] = []
        self._lock = threading.Lock()

    def seen(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [item for item in self._seen if item.method == method and item.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                item = Seen(
                    method=scope["method"],
                    path=scope["path"],
                    query=scope["query_string"].decode(),
                    status=message["status"],
                    origin=headers.get("origin"),
                    referer=headers.get("referer"),
                    fetch_site=headers.get("sec-fetch-site"),
                    has_cookie="jwt_token=" in headers.get("cookie", ""),
                )
                with self._lock:
                    self._seen.append(item)
            await send(message)

        await self.app(scope, receive, record)


@dataclass
class Gateway:
    url: str
    app: FastAPI
    recorder: Recorder
    registry: GatewayRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.registry = self.app.state.gateways


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    app = create_app(settings(), dev_users=USERS)
    recorder = Recorder(app)
    with LiveServer(recorder) as url:
        yield Gateway(url=url, app=app, recorder=recorder)


def log_in(page: Page, gateway: Gateway, username: str, password: str) -> None:
    page.goto(f"{gateway.url}/admin/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    snap(page, "e2e_login_form")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{gateway.url}/admin")


def test_admin_signs_in_and_fetches_tools_from_the_admin_page(page: Page, gateway: Gateway) -> None:
    console_errors: list[str] = []  # a CSP violation (inline script or style) would show here
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    log_in(page, gateway, "admin", "adminpass")
    expect(page.locator(".who")).to_contain_text("Signed in as admin")

    page.locator('tr[data-gateway="local"]').get_by_role("button", name="Fetch Tools").click()

    result = page.locator("#result-local")
    expect(result).to_contain_text("Fetched 3 tools from local as admin.")
    expect(result.locator("li code")).to_have_text(["whoami", "echo", "echo_later"])
    expect(page.locator("#tools-local")).to_have_text("3 (by admin)")
    snap(page, "e2e_admin_fetch_tools")
    [fetch] = gateway.recorder.seen("POST", "/oauth/fetch-tools/local")
    assert (fetch.status, fetch.fetch_site, fetch.referer) == (200, "same-origin", f"{gateway.url}/admin")
    # The cookie is HttpOnly and SameSite=Lax: the page's script cannot read it.
    assert page.evaluate("document.cookie") == ""
    [cookie] = page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("jwt_token", True, "Lax")
    assert console_errors == []


def identity_provider(callback: str) -> Starlette:
    """A stand-in identity provider: a consent form whose POST redirects back with a code."""

    async def authorize(request: Request) -> Response:
        return HTMLResponse(
            '<!doctype html><title>IdP</title><h1>Example IdP</h1><form method="post" action="/consent">'
            "<p>Allow the gateway to act on your behalf?</p><button>Allow</button></form>"
        )

    async def consent(request: Request) -> Response:
        return RedirectResponse(f"{callback}?code=code-from-idp&state=docs", status_code=303)

    return Starlette(routes=[Route("/authorize", authorize), Route("/consent", consent, methods=["POST"])])


def test_oauth_callback_after_a_cross_site_redirect_fetches_tools_with_the_cookie(page: Page, gateway: Gateway) -> None:
    log_in(page, gateway, "admin", "adminpass")
    with LiveServer(identity_provider(f"{gateway.url}/oauth/callback")) as idp:
        idp_url = idp.replace("127.0.0.1", "localhost")  # another SITE: a truly cross-site redirect
        page.goto(f"{idp_url}/authorize")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{gateway.url}/oauth/callback?code=code-from-idp&state=docs")

    expect(page.get_by_role("heading")).to_have_text("Authorization successful")
    [landing] = gateway.recorder.seen("GET", "/oauth/callback")
    assert (landing.status, landing.fetch_site, landing.has_cookie) == (200, "cross-site", True)

    page.get_by_role("button", name="Fetch Tools from MCP Server").click()

    result = page.locator("#result-docs")
    expect(result).to_contain_text("Fetched 2 tools from docs as admin.")
    expect(result.locator("li code")).to_have_text(["search_docs", "get_page"])
    snap(page, "e2e_oauth_callback_fetch_tools")
    # Seed 003: the page's fetch carries the callback URL as Referer and asks for JSON; it is
    # a browser request because /oauth/callback is on the allowlist.
    [fetch] = gateway.recorder.seen("POST", "/oauth/fetch-tools/docs")
    assert fetch.status == 200
    assert fetch.referer == f"{gateway.url}/oauth/callback?code=code-from-idp&state=docs"
    assert fetch.fetch_site == "same-origin"


def test_viewer_sees_a_readable_permission_denied(page: Page, gateway: Gateway) -> None:
    log_in(page, gateway, "viewer", "viewerpass")

    page.locator('tr[data-gateway="local"]').get_by_role("button", name="Fetch Tools").click()

    result = page.locator("#result-local")
    expect(result).to_contain_text("Could not fetch tools")
    expect(result).to_contain_text("Permission denied: gateways.update required")
    snap(page, "e2e_viewer_permission_denied")
    [fetch] = gateway.recorder.seen("POST", "/oauth/fetch-tools/local")
    assert (fetch.status, fetch.has_cookie) == (403, True)
    assert gateway.registry.fetches() == []


ATTACKER_PAGE = """<!doctype html>
<title>Win a prize</title>
<h1>Totally unrelated page</h1>
<button id="go">Claim prize</button>
<pre id="result">(nothing yet)</pre>
<script>
  document.getElementById("go").addEventListener("click", async () => {
    const out = document.getElementById("result");
    try {
      const response = await fetch(TARGET, {
        method: "POST", credentials: "include", headers: {Accept: "application/json"},
      });
      out.textContent = "status " + response.status + ": " + (await response.text());
    } catch (error) {
      out.textContent = "blocked: " + error;
    }
  });
</script>
"""


def attacker_site(target: str) -> Starlette:
    async def index(request: Request) -> Response:
        return HTMLResponse(ATTACKER_PAGE.replace("TARGET", repr(target)))

    return Starlette(routes=[Route("/", index)])


def test_page_on_another_origin_cannot_fetch_tools_with_the_cookie(page: Page, gateway: Gateway) -> None:
    log_in(page, gateway, "admin", "adminpass")
    with LiveServer(attacker_site(f"{gateway.url}/oauth/fetch-tools/local")) as attacker:
        page.goto(f"{attacker}/")
        page.get_by_role("button", name="Claim prize").click()
        # No CORS headers on the refusal: the page cannot even read it.
        expect(page.locator("#result")).to_contain_text("blocked: TypeError")
        snap(page, "e2e_cross_origin_refused")

    [attempt] = gateway.recorder.seen("POST", "/oauth/fetch-tools/local")
    # Another port of 127.0.0.1 is the same SITE: Chromium sends the Lax cookie and says
    # same-site. The gateway refuses it as cross-site all the same.
    assert attempt.fetch_site == "same-site"
    assert attempt.origin == attacker
    assert attempt.has_cookie is True
    assert attempt.status == 403
    assert gateway.registry.fetches() == []
    assert "whoami" not in (page.locator("#result").text_content() or "")
