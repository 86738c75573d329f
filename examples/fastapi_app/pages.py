"""The example's HTML pages. Plain strings, every value escaped; no inline script or style, so
the Content-Security-Policy can forbid both (the behaviour is in `static/app.js`)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from asgi_mcp_auth import Principal

from .gateways import Gateway

__all__ = ["admin_page", "authorize_page", "callback_page", "login_page"]


def _layout(title: str, body: str, principal: Principal | None = None) -> str:
    nav = ""
    if principal is not None:
        roles = ", ".join(sorted(principal.roles)) or "no roles"
        nav = f"""
      <nav>
        <a href="/admin">Gateways</a>
        <a href="/whoami">Who am I</a>
        <span class="who">Signed in as <strong>{escape(principal.subject)}</strong>
          <span class="muted">({escape(roles)}, via {escape(principal.token_source.value)})</span></span>
        <form method="post" action="/admin/logout"><button class="link" type="submit">Sign out</button></form>
      </nav>"""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)} · MCP Gateway</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/static/style.css">
  <script src="/static/app.js" defer></script>
</head>
<body>
  <header class="topbar">
    <a class="brand" href="/admin"><span class="logo">◆</span> MCP Gateway</a>{nav}
  </header>
  <main>
{body}
  </main>
  <footer>asgi-mcp-auth example gateway · for development only</footer>
</body>
</html>
"""


def login_page(*, error: str | None = None, hint: str | None = None, enabled: bool = True) -> str:
    message = f'<p class="alert error" role="alert">{escape(error)}</p>' if error else ""
    note = f'<p class="muted small">{escape(hint)}</p>' if hint else ""
    if not enabled:
        form = '<p class="alert error">Dev login is off: it needs MCP_AUTH_JWT_SECRET to sign tokens.</p>'
    else:
        form = """<form method="post" action="/admin/login" class="stack">
        <label>Username <input name="username" autocomplete="username" required autofocus></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button class="btn primary" type="submit">Sign in</button>
      </form>"""
    body = f"""    <section class="card narrow">
      <h1>Sign in</h1>
      {message}
      {form}
      {note}
    </section>"""
    return _layout("Sign in", body)


def authorize_page(
    *, action: str, client_name: str, scope: str, error: str | None = None, hint: str | None = None
) -> str:
    """The dev authorization server's login form: the same form as `/admin/login`, posted to
    `action` (the authorization request's own URL). Signing in is the consent."""
    message = f'<p class="alert error" role="alert">{escape(error)}</p>' if error else ""
    note = f'<p class="muted small">{escape(hint)}</p>' if hint else ""
    scopes = "".join(f"<li><code>{escape(item)}</code></li>" for item in scope.split()) or "<li>basic access</li>"
    body = f"""    <section class="card narrow">
      <h1>Sign in</h1>
      <p><strong>{escape(client_name)}</strong> asks to use this gateway with:</p>
      <ul class="scopes">{scopes}</ul>
      <p class="muted small">Your role decides which of these you are granted.</p>
      {message}
      <form method="post" action="{escape(action)}" class="stack">
        <label>Username <input name="username" autocomplete="username" required autofocus></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button class="btn primary" type="submit">Sign in and allow</button>
      </form>
      {note}
    </section>"""
    return _layout("Sign in", body)


def _gateway_row(gateway: Gateway) -> str:
    gid = escape(gateway.id)
    if gateway.last_fetch is None:
        fetched = '<span class="muted">not fetched yet</span>'
    else:
        fetched = f"{gateway.last_fetch.tool_count} (by {escape(gateway.last_fetch.subject)})"
    return f"""        <tr data-gateway="{gid}">
          <td><strong>{escape(gateway.name)}</strong><div class="muted small">{gid}</div></td>
          <td><code>{escape(gateway.url)}</code></td>
          <td>{escape(gateway.transport)}</td>
          <td>{escape(gateway.auth)}</td>
          <td id="tools-{gid}">{fetched}</td>
          <td><button class="btn" type="button" data-fetch-tools="/oauth/fetch-tools/{gid}"
                data-result="result-{gid}" data-count="tools-{gid}">Fetch Tools</button></td>
        </tr>
        <tr class="result-row">
          <td colspan="6"><div id="result-{gid}" class="result" aria-live="polite"></div></td>
        </tr>"""


def admin_page(principal: Principal, gateways: Iterable[Gateway]) -> str:
    rows = "\n".join(_gateway_row(gateway) for gateway in gateways)
    body = f"""    <section class="card">
      <div class="card-head">
        <h1>MCP servers</h1>
        <a class="btn ghost" href="/oauth/callback?code=demo&amp;state=docs">Simulate OAuth callback</a>
      </div>
      <table>
        <thead><tr><th>Name</th><th>URL</th><th>Transport</th><th>Auth</th><th>Tools</th><th></th></tr></thead>
        <tbody>
{rows}
        </tbody>
      </table>
    </section>"""
    return _layout("Gateways", body, principal)


def callback_page(principal: Principal, gateway: Gateway | None, *, error: str | None = None) -> str:
    if error is not None or gateway is None:
        reason = error or "unknown gateway"
        body = f"""    <section class="card narrow">
      <h1 class="fail">Authorization failed</h1>
      <p>The identity provider answered: <code>{escape(reason)}</code>.</p>
      <p><a href="/admin">Back to the gateways</a></p>
    </section>"""
        return _layout("Authorization failed", body, principal)
    gid = escape(gateway.id)
    body = f"""    <section class="card narrow">
      <h1 class="ok">Authorization successful</h1>
      <p>The gateway stored your delegated access for <strong>{escape(gateway.name)}</strong>.
         Fetch its tools to check that the whole flow works.</p>
      <button class="btn primary" type="button" data-fetch-tools="/oauth/fetch-tools/{gid}"
              data-result="result-{gid}">Fetch Tools from MCP Server</button>
      <div id="result-{gid}" class="result" aria-live="polite"></div>
      <p><a href="/admin">Back to the gateways</a></p>
    </section>"""
    return _layout("Authorization successful", body, principal)
