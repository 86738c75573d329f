"""Refused authentication creates no session (seed 002); malformed credentials never give a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from .model import CheckResult
from .probe import Prober
from .results import failed, passed, skipped

__all__ = ["TRACEBACK_MARKERS", "malformed_credentials", "malformed_values", "refused_auth_no_session"]

REFUSED_AUTH_NO_SESSION = "refused-auth-no-session"
MALFORMED_CREDENTIALS = "malformed-credentials"

#: Text that shows an exception leaked into a response body.
TRACEBACK_MARKERS = (
    "Traceback (most recent call last)",
    'File "/',
    "site-packages/",
    "jwt.exceptions",
    "DecodeError",
    "binascii",
    "TypeError:",
    "ValueError:",
    "KeyError:",
    "AttributeError:",
    "UnicodeDecodeError",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(header: object, payload: object, signature: str = "c2ln") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{signature}"


def malformed_values(valid: str | None = None) -> Iterator[str]:
    """About a hundred credentials that must be refused with a 4xx: broken JWTs, odd schemes,
    wrong types in claims, oversized and non-ASCII values. `valid` (a real token) yields its
    truncated, re-signed and re-padded forms too."""
    yield from ("", " ", "Bearer", "Bearer ", "Bearer  ", "bearer", "BEARER x", "Bearer\tx", "Bearer x y", "Bearer,x")
    yield from ("Basic dXNlcjpwYXNz", "Basic", "Digest username=x", "Token abc", "Negotiate YII=", "x", "null")
    yield from ("Bearer null", "Bearer undefined", "Bearer true", "Bearer 0", "Bearer []", "Bearer {}", 'Bearer "x"')
    yield from ("Bearer .", "Bearer ..", "Bearer ...", "Bearer a.b", "Bearer a.b.c", "Bearer a.b.c.d", "Bearer a..c")
    yield from ("Bearer ====", "Bearer =.=.=", "Bearer %00", "Bearer %2e%2e", "Bearer ../../etc/passwd")
    yield from ("Bearer <script>alert(1)</script>", "Bearer ' OR '1'='1", "Bearer ${jndi:ldap://x}", "Bearer {{7*7}}")
    yield from ("Bearer " + "A" * 9000, "Bearer " + "a." * 2000 + "a", "Bearer " + "." * 5000)
    yield from ("Bearer é", "Bearer ü.ö.ä", "Bearer \u00ff\u00fe")
    headers: list[object] = [
        {"alg": "none"},
        {"alg": "none", "typ": "JWT"},
        {"alg": "None"},
        {"alg": "HS256"},
        {"alg": "RS256", "kid": "../../../dev/null"},
        {"alg": "HS256", "kid": "' OR 1=1 --"},
        {"alg": "HS256", "jku": "http://127.0.0.1:1/jwks.json"},
        {"alg": "HS256", "x5u": "http://127.0.0.1:1/cert"},
        {"alg": "RS256", "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
        {"alg": "HS256", "crit": ["exp"]},
        {"alg": "ES256"},
        {"alg": 256},
        {"alg": None},
        {"alg": ["HS256"]},
        {},
        [],
        "HS256",
        None,
    ]
    payloads: list[object] = [
        {"sub": "admin"},
        {"sub": "admin", "exp": "never"},
        {"sub": "admin", "exp": 1e308},
        {"sub": "admin", "exp": -1},
        {"sub": "admin", "exp": [1]},
        {"sub": "admin", "nbf": "soon", "iat": {}},
        {"sub": 12345},
        {"sub": None},
        {"sub": ["admin"]},
        {"sub": {"id": "admin"}},
        {"sub": "admin", "aud": 7},
        {"sub": "admin", "aud": [None, {}]},
        {"sub": "admin", "roles": "admin"},
        {"sub": "admin", "roles": {"admin": True}},
        {"sub": "admin", "scope": ["*"]},
        {"sub": "admin", "team_roles": ["admin"]},
        {"authenticated": "false"},
        {"authenticated": True, "sub": "admin"},
        [],
        "admin",
        12,
        None,
    ]
    for header in headers:
        yield "Bearer " + _jwt(header, {"sub": "admin", "exp": 4102444800})
    for payload in payloads:
        yield "Bearer " + _jwt({"alg": "HS256", "typ": "JWT"}, payload)
    for payload in payloads[:6]:
        yield "Bearer " + _jwt({"alg": "none"}, payload, signature="")
    yield "Bearer " + _b64(b"\xff\xfe\xfd") + "." + _b64(b"\x00\x01") + "." + _b64(b"\x02")
    yield "Bearer " + _b64(b"{not json") + "." + _b64(b"{}") + ".x"
    yield "Bearer " + _b64(b'{"alg":"HS256"') + "." + _b64(b'{"sub":"a"') + ".x"
    if valid:
        yield f"Bearer {valid[:-3]}"
        yield f"Bearer {valid[:-1]}{'A' if valid[-1] != 'A' else 'B'}"
        yield f"Bearer {valid}="
        yield f"Bearer {valid}.x"
        yield f"Bearer {valid} {valid}"
        yield f"Bearer {'.'.join(valid.split('.')[:2])}."
        yield f"Bearer {valid.split('.')[0]}"
        yield f"Bearer {valid.upper()}"
        yield f"Basic {valid}"
        yield f"Token {valid}"


def _leaks_a_traceback(text: str) -> str | None:
    for marker in TRACEBACK_MARKERS:
        if marker in text:
            return marker
    return None


async def refused_auth_no_session(prober: Prober) -> CheckResult:
    """`initialize` with no, a bad, or a forged credential is refused and returns no session id;
    a session id it returned anyway must then be useless."""
    roles = prober.target.roles
    forged = None
    if roles:
        real = prober.token(roles[0])
        forged = real[:-1] + ("A" if real[-1] != "A" else "B")
    cases = [
        ("no credential", {}),
        ("Bearer invalid.jwt.token", {"authorization": "Bearer invalid.jwt.token"}),
        ("an unsigned token", {"authorization": "Bearer " + _jwt({"alg": "none"}, {"sub": "admin"}, "")}),
        (
            "a cookie with garbage",
            {"cookie": f"{prober.target.cookie_name}=invalid.jwt.token", **prober.same_origin_page()},
        ),
    ]
    if forged is not None:
        cases.append(("a token with a broken signature", {"authorization": f"Bearer {forged}"}))
    for label, headers in cases:
        reply = await prober.initialize(headers=headers)
        if reply.ok:
            return failed(REFUSED_AUTH_NO_SESSION, f"initialize with {label} succeeded (HTTP {reply.status})", reply)
        if reply.session_id:
            later = await prober.call("tools/list", headers=headers, session_id=reply.session_id)
            usable = " and the session answered a later call" if later.rpc_result is not None else ""
            return failed(
                REFUSED_AUTH_NO_SESSION,
                f"refused initialize with {label} returned an Mcp-Session-Id{usable}",
                later if usable else reply,
            )
    return passed(REFUSED_AUTH_NO_SESSION, f"{len(cases)} refused initialize requests returned no session id")


async def malformed_credentials(prober: Prober) -> CheckResult:
    """Each malformed credential, as the Authorization header on the MCP endpoint and the whoami
    route and as the cookie, is answered 4xx, never 2xx or 5xx, and no body shows a traceback."""
    roles = prober.target.roles
    valid = prober.token(roles[0]) if roles else None
    # A variant may spell the valid token itself (an opaque token has no dots to cut at).
    values = [value for value in dict.fromkeys(malformed_values(valid)) if value != f"Bearer {valid}"]
    if not values:
        return skipped(MALFORMED_CREDENTIALS, "no values")
    sent = 0
    for value in values:
        encoded = value.encode("utf-8")
        probes: list[tuple[str, str, dict[str, str | bytes]]] = [("MCP endpoint", "mcp", {"authorization": encoded})]
        if prober.target.whoami_route is not None:
            probes.append(("whoami route", prober.target.whoami_route, {"authorization": encoded}))
        token_part = value.removeprefix("Bearer ").strip()
        if token_part and token_part.isascii() and ";" not in token_part and len(token_part) < 4000:
            cookie = f"{prober.target.cookie_name}={token_part}".encode()
            probes.append(("MCP endpoint, as a cookie", "mcp", {"cookie": cookie, **_bytes(prober.same_origin_page())}))
        for label, where, headers in probes:
            sent += 1
            if where == "mcp":
                reply = await prober.initialize(headers=headers)
            else:
                reply = await prober.send("GET", where, headers=headers)
            if reply.status is None:
                continue  # the server closed the connection on an oversized header: not a 500
            if reply.status >= 500:
                return failed(MALFORMED_CREDENTIALS, f"{label}: HTTP {reply.status} for a malformed credential", reply)
            if reply.ok:
                return failed(
                    MALFORMED_CREDENTIALS, f"{label}: a malformed credential was accepted (HTTP {reply.status})", reply
                )
            marker = _leaks_a_traceback(reply.text)
            if marker is not None:
                return failed(MALFORMED_CREDENTIALS, f"{label}: the body shows exception text ({marker!r})", reply)
    return passed(MALFORMED_CREDENTIALS, f"{len(values)} malformed credentials, {sent} requests: all 4xx, no traceback")


def _bytes(headers: dict[str, str]) -> dict[str, str | bytes]:
    return {name: value.encode() for name, value in headers.items()}
