"""Two small ASGI middlewares for the example's pages: security headers on every response, and a
redirect to the login form when a page navigation is refused with 401."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "LoginRedirect", "SecurityHeaders"]

# No inline script or style (the pages load /static/app.js and /static/style.css), no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

_SECURITY_HEADERS = (
    # `same-origin` keeps the page's path in the Referer of its own API calls: the browser policy
    # matches it against its allowlist. `strict-origin` would strip it and break the buttons.
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)


class SecurityHeaders:
    """Adds `Referrer-Policy`, a CSP and friends to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_html(headers: Headers) -> bool:
    if headers.get("sec-fetch-dest") == "document":
        return True
    return any(item.split(";", 1)[0].strip() == "text/html" for item in headers.get("accept", "").split(","))


class LoginRedirect:
    """Turns a 401 for a page navigation (GET, HTML wanted, a page path) into a 303 to the login form.

    Presentation only: the authentication middleware inside has already refused the request.
    """

    def __init__(self, app: ASGIApp, *, page_paths: Iterable[str], login_path: str) -> None:
        self.app = app
        self.page_paths = tuple(page_paths)
        self.login_path = login_path.encode()

    def _is_page(self, path: str) -> bool:
        return any(path == page or path.startswith(page + "/") for page in self.page_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not self._is_page(scope["path"])
            or not _wants_html(Headers(scope=scope))
        ):
            await self.app(scope, receive, send)
            return

        redirected = False

        async def send_or_redirect(message: Message) -> None:
            nonlocal redirected
            if message["type"] == "http.response.start" and message["status"] == 401:
                redirected = True
                headers = [(b"location", self.login_path), (b"content-length", b"0"), (b"cache-control", b"no-store")]
                await send({"type": "http.response.start", "status": 303, "headers": headers})
            elif not redirected:
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b""})

        await self.app(scope, receive, send_or_redirect)
