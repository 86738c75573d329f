"""Which path a rule looks at: the route path, the one Starlette's router dispatches on.

An ASGI `path` includes the `root_path`, which a server (`uvicorn --root-path`), a `Mount`,
`FastAPI(root_path=...)` or, under Daphne, the client itself (`Daphne-Root-Path`) may set. The
router strips it before matching routes, so a rule decided on the raw path is a rule about a
different route from the one that runs. Hence:

- a request is **public** only when its route path is a public path and neither its raw nor its
  route path is an MCP path (a client-chosen `root_path` can move the route path, never widen
  what is public);
- a request is an **MCP request** when its raw or route path is in `MCP_PATHS`, when its route
  path has the shape of a streamable HTTP endpoint (a final `mcp` segment), or when it is a POST
  to the SSE transport's message endpoint (`messages` with a `session_id`, or any path with a
  `session_id` of the SDK's form, 32 hexadecimal digits), or a POST that carries MCP protocol
  headers (`Mcp-Method`, `MCP-Protocol-Version`, `Mcp-Session-Id`) or asks for
  `text/event-stream`, which the streamable HTTP transport demands of every POST it answers
  with a stream.

MCP requests found by their shape or headers rather than by `MCP_PATHS` are checked all the
same; the first one on each path logs a warning asking the operator to list the path.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable
from typing import NamedTuple

from starlette.types import Scope

__all__ = ["PathKind", "PathRules", "route_path", "strip_root_path"]

logger = logging.getLogger("asgi_mcp_auth.paths")
LOG_UNLISTED_MCP = (
    "MCP traffic on %r, which is not in MCP_AUTH_MCP_PATHS: its methods are checked, "
    "but add the path to MCP_AUTH_MCP_PATHS so every rule knows it"
)

_MEMO_SIZE = 4096
_MEMO_MAX_CHARS = 256
_MAX_WARNED_PATHS = 256
_SIGNAL_HEADERS = frozenset({b"mcp-method", b"mcp-protocol-version", b"mcp-session-id"})
_SDK_SESSION_ID = re.compile(rb"[0-9a-fA-F]{32}")


def route_path(scope: Scope) -> str:
    """The path the router matches: `path` without `root_path` when `root_path` is a prefix of
    it ending at a segment boundary; otherwise `path` itself (Starlette's own rule)."""
    return strip_root_path(scope["path"], scope.get("root_path") or "")


def strip_root_path(path: str, root_path: str) -> str:
    """`path` without the prefix `root_path`, by the rule of `route_path`."""
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


class PathKind(NamedTuple):
    """How the middleware treats a request."""

    public: bool  # no credential needed
    mcp: bool  # a JSON-RPC endpoint: permission checks per method, JSON-RPC error bodies
    listed: bool = True  # found through MCP_PATHS (False: by its shape or headers)


_UNLISTED_MCP = PathKind(public=False, mcp=True, listed=False)


def _clean(path: str) -> str:
    """Collapse `//`, resolve dot segments and fold case: how a lenient router might see it."""
    normalised = posixpath.normpath("/" + path.lstrip("/")).lower()
    return normalised.replace("//", "/")


def _has_dot_segment(path: str) -> bool:
    return "\\" in path or any(segment in (".", "..") for segment in path.split("/"))


class PathRules:
    """Public and MCP paths, decided as described in the module docstring. Build once;
    `classify` only reads, apart from a bounded memo and the bounded set of warned paths."""

    def __init__(
        self,
        *,
        public_paths: Iterable[str] = ("/health",),
        mcp_paths: Iterable[str] = ("/mcp",),
        detect_mcp: bool = True,
    ) -> None:
        self.public_paths = frozenset(path.rstrip("/") or "/" for path in public_paths)
        self.mcp_paths = tuple(_clean(path).rstrip("/") for path in mcp_paths)
        self.detect_mcp = detect_mcp
        # Bounded memos of what the paths alone decide; `_open`: kinds the request's method and
        # headers may still make an MCP request.
        self._settled: dict[str | tuple[str, str], PathKind] = {}
        self._open: dict[str | tuple[str, str], PathKind] = {}
        self._warned: set[str] = set()

    def is_public(self, path: str) -> bool:
        """Exact match (a trailing slash aside); a path with dot segments is never public."""
        if _has_dot_segment(path):
            return False
        return (path.rstrip("/") or "/") in self.public_paths

    def is_mcp_path(self, path: str) -> bool:
        """Segment match against `MCP_PATHS` on the path as a lenient router could see it."""
        cleaned = _clean(path)
        return any(cleaned == mcp or cleaned.startswith(mcp + "/") for mcp in self.mcp_paths)

    def classify(self, scope: Scope) -> PathKind:
        """The `PathKind` of the request in `scope` (see the module docstring)."""
        path: str = scope["path"]
        root_path: str | None = scope.get("root_path")
        key: str | tuple[str, str] = (path, root_path) if root_path else path
        kind = self._settled.get(key)  # public, listed, or detection off: the paths decide alone
        if kind is not None:
            return kind
        kind = self._open.get(key)
        if kind is None:
            kind = self._learn(key, path, route_path(scope))
            if kind.public or kind.listed or not self.detect_mcp:
                return kind
        if kind.mcp or (scope.get("method") == "POST" and self._carries_mcp_signals(scope)):
            self._warn_unlisted(route_path(scope))
            return _UNLISTED_MCP
        return kind

    def _learn(self, key: str | tuple[str, str], raw: str, route: str) -> PathKind:
        kind = self._classify_paths(raw, route)
        if len(raw) + len(route) <= _MEMO_MAX_CHARS:
            memo = self._settled if kind.public or kind.listed or not self.detect_mcp else self._open
            if len(memo) >= _MEMO_SIZE:
                memo.clear()  # many distinct paths (a scan): start over, stay bounded
            memo[key] = kind
        return kind

    def _classify_paths(self, raw: str, route: str) -> PathKind:
        if self.is_mcp_path(raw) or self.is_mcp_path(route):
            return PathKind(public=False, mcp=True, listed=True)
        if self.is_public(route):
            return PathKind(public=True, mcp=False, listed=True)
        shaped = self.detect_mcp and _is_mcp_endpoint_shape(route)
        return PathKind(public=False, mcp=shaped, listed=False)

    def _carries_mcp_signals(self, scope: Scope) -> bool:
        if scope.get("type") != "http":
            return False
        headers = scope["headers"]
        if not isinstance(headers, list):  # any iterable is allowed: read it once, as Headers does
            headers = scope["headers"] = list(headers)
        for name, value in headers:
            if name in _SIGNAL_HEADERS:
                return True
            if name == b"accept" and b"text/event-stream" in value.lower():
                return True
        return _is_sse_message_endpoint(route_path(scope), scope.get("query_string", b""))

    def _warn_unlisted(self, path: str) -> None:
        if path in self._warned or len(self._warned) >= _MAX_WARNED_PATHS:
            return
        self._warned.add(path)
        logger.warning(LOG_UNLISTED_MCP, path[:_MEMO_MAX_CHARS])


def _is_mcp_endpoint_shape(route: str) -> bool:
    """A final `mcp` segment (`/analytics/mcp`, `/analytics/mcp/`), the streamable HTTP
    endpoint of an MCP server mounted anywhere with the SDK's defaults."""
    segments = [segment for segment in _clean(route).split("/") if segment]
    return bool(segments) and segments[-1] == "mcp"


def _is_sse_message_endpoint(route: str, query: bytes) -> bool:
    """The SSE transport's `POST .../messages/?session_id=...`, or its message endpoint at any
    path, known by the session id the SDK hands out (32 hexadecimal digits)."""
    if b"session_id=" not in query:
        return False
    segments = [segment for segment in _clean(route).split("/") if segment]
    if segments and segments[-1] == "messages":
        return True
    return any(_SDK_SESSION_ID.fullmatch(value) for value in _query_values(query, b"session_id"))


def _query_values(query: bytes, name: bytes) -> list[bytes]:
    return [part.partition(b"=")[2] for part in query.split(b"&") if part.partition(b"=")[0] == name]
