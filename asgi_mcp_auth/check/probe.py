"""`Prober`: sends one probe at a time to the gateway and keeps a redacted record of it.

It speaks streamable HTTP by hand (plain httpx), so every status code and header stays visible;
an SDK client would turn refusals into exceptions and hide them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from .model import Exchange, redact
from .target import Target
from .wire import CLIENT_INFO, HANDSHAKE_VERSION, MCP_ACCEPT, Reply, parse_messages

__all__ = ["LoginFailed", "Prober"]


class Prober:
    """Sends probes to `target` and records them with every token and password redacted.

    `bearer(role)`, `cookie(role)` build credentials; `mcp(...)` posts JSON-RPC to the MCP path
    (or another path); `initialize(...)` opens a stateful session.
    """

    def __init__(self, target: Target, client: httpx.AsyncClient) -> None:
        self.target = target
        self.client = client
        self.cookies: dict[str, str] = dict(target.cookies)
        self._secrets: dict[str, str] = {}
        for role, token in target.tokens.items():
            self._secrets[token] = f"token:{role}"
        for role, value in target.cookies.items():
            self._secrets[value] = f"cookie:{role}"
        if target.cookie_login is not None:
            for role, (_user, password) in target.cookie_login.credentials.items():
                self._secrets[password] = f"password:{role}"
        self._next_id = 0

    def hide(self, value: str, name: str) -> None:
        """Redact `value` (a session id, a cookie) as `<name>` in every later record."""
        if value:
            self._secrets.setdefault(value, name)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ credentials

    def token(self, role: str) -> str:
        return self.target.tokens[role]

    def bearer(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(role)}"}

    def cookie_value(self, role: str) -> str:
        return self.cookies.get(role) or self.token(role)

    def cookie(self, role: str) -> dict[str, str]:
        return {"cookie": f"{self.target.cookie_name}={self.cookie_value(role)}"}

    def same_origin_page(self) -> dict[str, str]:
        """What a browser sends for a `fetch` from the gateway's own (allowlisted) page."""
        origin = self.target.origin
        return {
            "origin": origin,
            "referer": origin + self.target.browser_page,
            "sec-fetch-site": "same-origin",
            "sec-fetch-mode": "cors",
            "sec-fetch-dest": "empty",
        }

    @staticmethod
    def cross_site_page() -> dict[str, str]:
        """What a browser sends for a `fetch` from another site's page."""
        return {
            "origin": "https://attacker.example",
            "referer": "https://attacker.example/page",
            "sec-fetch-site": "cross-site",
            "sec-fetch-mode": "cors",
            "sec-fetch-dest": "empty",
        }

    async def log_in(self) -> None:
        """Fetch the session cookie of every role `cookie_login` names (a form POST)."""
        login = self.target.cookie_login
        if login is None:
            return
        for role, (user, password) in login.credentials.items():
            fields = {login.username_field: user, login.password_field: password}
            headers = {**self.same_origin_page(), "referer": self.target.origin + login.path}
            response = await self.client.post(
                self.target.origin + login.path, data=fields, headers=headers, follow_redirects=False
            )
            value = response.cookies.get(self.target.cookie_name)
            if value is None:
                raise LoginFailed(
                    f"logging in as {role} at {login.path} set no {self.target.cookie_name} cookie "
                    f"(HTTP {response.status_code})"
                )
            self.cookies[role] = value
            self.hide(value, f"cookie:{role}")

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str | bytes] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        """One request; a transport error becomes a Reply with status None (never an exception)."""
        url = self.target.origin + path
        sent = httpx.Headers(
            [
                (name.encode(), value if isinstance(value, bytes) else value.encode())
                for name, value in (headers or {}).items()
            ]
        )
        try:
            response = await self.client.request(method, url, headers=sent, content=body, follow_redirects=False)
        except httpx.HTTPError as exc:
            exchange = self._record(method, url, sent, body, None, httpx.Headers(), "", error=type(exc).__name__)
            return Reply(None, httpx.Headers(), "", (), exchange)
        text = response.text
        exchange = self._record(method, url, sent, body, response.status_code, response.headers, text)
        messages = parse_messages(response.headers.get("content-type", ""), text)
        return Reply(response.status_code, response.headers, text, messages, exchange)

    async def mcp(
        self,
        payload: Mapping[str, Any],
        *,
        headers: Mapping[str, str | bytes] | None = None,
        session_id: str | None = None,
        path: str | None = None,
        version: str = HANDSHAKE_VERSION,
    ) -> Reply:
        """POST one JSON-RPC message to the MCP endpoint (`path` overrides it)."""
        sent: dict[str, str | bytes] = {
            "accept": MCP_ACCEPT,
            "content-type": "application/json",
            "mcp-protocol-version": version,
        }
        if session_id is not None:
            sent["mcp-session-id"] = session_id
        sent.update(headers or {})
        return await self.send("POST", path or self.target.mcp_path, headers=sent, body=json.dumps(payload).encode())

    async def initialize(self, *, headers: Mapping[str, str | bytes] | None = None, path: str | None = None) -> Reply:
        """`initialize` (then `notifications/initialized` when it succeeded); the session id is redacted."""
        payload = {
            "jsonrpc": "2.0",
            "id": self.next_id(),
            "method": "initialize",
            "params": {"protocolVersion": HANDSHAKE_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
        }
        reply = await self.mcp(payload, headers=headers, path=path)
        if reply.session_id:
            self.hide(reply.session_id, "session-id")
        if reply.ok:
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await self.mcp(note, headers=headers, session_id=reply.session_id, path=path)
        return reply

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str | bytes] | None = None,
        session_id: str | None = None,
        path: str | None = None,
    ) -> Reply:
        payload = {"jsonrpc": "2.0", "id": self.next_id(), "method": method, "params": dict(params or {})}
        return await self.mcp(payload, headers=headers, session_id=session_id, path=path)

    async def call_tool_in_session(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str | bytes],
        call_headers: Mapping[str, str | bytes] | None = None,
        path: str | None = None,
    ) -> tuple[Reply, Reply | None]:
        """Open a session with `headers`, call one tool with `call_headers` (default: the same).

        Returns (initialize reply, tool reply or None when initialize was refused). Stateless
        gateways (no session id) are called without one.
        """
        opened = await self.initialize(headers=headers, path=path)
        if not opened.ok:
            return opened, None
        reply = await self.call(
            "tools/call",
            {"name": name, "arguments": dict(arguments or {})},
            headers=call_headers if call_headers is not None else headers,
            session_id=opened.session_id,
            path=path,
        )
        return opened, reply

    def _record(
        self,
        method: str,
        url: str,
        sent: httpx.Headers,
        body: bytes | None,
        status: int | None,
        received: httpx.Headers,
        text: str,
        *,
        error: str | None = None,
    ) -> Exchange:
        def clean(value: str) -> str:
            return redact(value, self._secrets)

        return Exchange(
            method=method,
            url=clean(url),
            request_headers=tuple((name, clean(value)) for name, value in sent.items()),
            request_body=clean(body.decode("utf-8", "replace")) if body else "",
            status=status,
            response_headers=tuple((name, clean(value)) for name, value in received.multi_items()),
            response_body=clean(text),
            error=error,
        )


class LoginFailed(Exception):
    """The cookie login did not give a cookie."""
