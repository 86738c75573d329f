"""Permissions for MCP JSON-RPC methods, checked before the MCP server sees the call.

The default map covers every client-to-server request of the protocols the `mcp` SDK speaks
(2024-11-05 to 2025-11-25, and 2026-07-28 with the tasks extension). Deny by default: a request
whose method is not in the map needs `mcp.method:<method>` (held by `*` and `mcp.*`), unless the
operator maps the method, `null` meaning "needs nothing". Responses (no `method`) and
notifications (`notifications/...` without an `id`) need nothing. A batch passes only when every
entry does. A body that is not JSON needs nothing here: the server answers its own parse error.

`tools/call` needs `tools.execute:<params.name>` (granted by `tools.execute`, `tools.*`, `*`);
without a string name it needs `tools.execute` itself. `subscriptions/listen` needs the read
permission of every kind of notification it asks for, `completion/complete` the read
permission of what it completes (a prompt's or a resource template's argument).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..core.errors import ConfigurationError, InvalidRequest
from ..core.permissions import is_permission_name
from .policy_file import parse_json

__all__ = ["DEFAULT_METHOD_PERMISSIONS", "UNKNOWN_METHOD_PERMISSION", "MethodPermissions", "parse_messages"]

VARIABLE = "MCP_AUTH_MCP_METHOD_PERMISSIONS"
NAME = "{name}"
UNKNOWN_METHOD_PERMISSION = "mcp.method"
"""`mcp.method:<method>` is what an unmapped method needs; `mcp.method` when the method name
cannot be a permission's object."""

# Computed per request from the parameters; an operator's entry for the method replaces it.
COMPUTED = "<computed>"

DEFAULT_METHOD_PERMISSIONS: Mapping[str, str | None] = MappingProxyType(
    {
        # Lifecycle and discovery: they reveal what `initialize` would, and nothing else.
        "initialize": None,
        "ping": None,
        "server/discover": None,
        # Changes what the server logs to this client's own session only.
        "logging/setLevel": None,
        "tools/list": "tools.read",
        "tools/call": "tools.execute:{name}",
        "resources/list": "resources.read",
        "resources/read": "resources.read",
        "resources/templates/list": "resources.read",
        "resources/subscribe": "resources.read",
        "resources/unsubscribe": "resources.read",
        "prompts/list": "prompts.read",
        "prompts/get": "prompts.read",
        "completion/complete": COMPUTED,
        "subscriptions/listen": COMPUTED,
        # Tasks extension: a task is a tool call running in the background.
        "tasks/list": "tools.read",
        "tasks/get": "tools.read",
        "tasks/result": "tools.execute",
        "tasks/cancel": "tools.execute",
    }
)

# subscriptions/listen: which permission each requested kind of notification needs.
_LISTEN_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "toolsListChanged": "tools.read",
        "promptsListChanged": "prompts.read",
        "resourcesListChanged": "resources.read",
        "resourceSubscriptions": "resources.read",
    }
)
_COMPLETION_REFS: Mapping[str, str] = MappingProxyType({"ref/prompt": "prompts.read", "ref/resource": "resources.read"})


class AmbiguousBody(InvalidRequest):
    default_message = "Ambiguous JSON-RPC body"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on duplicate keys (first or last wins): one the check reads and the
    # server another would let `{"method":"ping","method":"tools/call"}` through unchecked.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise AmbiguousBody("Ambiguous JSON-RPC body: duplicate key")
    return result


def parse_messages(body: bytes) -> list[Any] | None:
    """The JSON-RPC messages of a body (a batch's entries, or the one message); None when the
    body is not JSON. Raises `InvalidRequest` for JSON that parsers may read differently
    (duplicate keys, nesting too deep for this parser): refusing beats letting it through."""
    try:
        payload = json.loads(body, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise AmbiguousBody("JSON-RPC body nested too deeply") from None
    except AmbiguousBody:
        raise
    except ValueError:
        return None
    return payload if isinstance(payload, list) else [payload]


def _listen(params: Any) -> list[str]:
    notifications = params.get("notifications") if isinstance(params, dict) else None
    if not isinstance(notifications, dict):
        return sorted(set(_LISTEN_KINDS.values()))  # unreadable: as if it asked for everything
    needed = {
        permission for kind, permission in _LISTEN_KINDS.items() if notifications.get(kind) not in (None, False, [], "")
    }
    return sorted(needed)


def _completion(params: Any) -> list[str]:
    ref = params.get("ref") if isinstance(params, dict) else None
    kind = ref.get("type") if isinstance(ref, dict) else None
    permission = _COMPLETION_REFS.get(kind) if isinstance(kind, str) else None
    return [permission] if permission else sorted(_COMPLETION_REFS.values())


_COMPUTERS: Mapping[str, Callable[[Any], list[str]]] = MappingProxyType(
    {"subscriptions/listen": _listen, "completion/complete": _completion}
)


class MethodPermissions:
    """Maps JSON-RPC methods to the permissions they need; `{name}` is filled from `params.name`.

    `mapping` is laid over `DEFAULT_METHOD_PERMISSIONS` (`include_defaults=False`: used alone,
    so every method needs what `mapping` says or `mcp.method:<method>`); a method mapped to None
    or "" needs nothing. A template that is not a permission name once `{name}` is filled is a
    `ConfigurationError` naming the method.
    """

    def __init__(self, mapping: Mapping[str, str | None] | None = None, *, include_defaults: bool = True) -> None:
        merged: dict[str, str | None] = dict(DEFAULT_METHOD_PERMISSIONS) if include_defaults else {}
        for method, template in (mapping or {}).items():
            _validate(method, template)
            merged[method] = template
        self.mapping: Mapping[str, str | None] = MappingProxyType({m: t or None for m, t in merged.items()})

    @classmethod
    def from_json(cls, text: str | None, where: str = VARIABLE) -> MethodPermissions:
        """The defaults overlaid with a JSON object of method -> permission (or null)."""
        if text is None or not text.strip():
            return cls()
        data = parse_json(text, where)
        if not isinstance(data, dict):
            raise ConfigurationError(f"{where}: must be a JSON object of method names to permissions")
        try:
            return cls(data)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None

    def __repr__(self) -> str:
        return f"MethodPermissions({dict(self.mapping)!r})"

    def required_for_body(self, body: bytes) -> list[str]:
        """The permissions a request body needs: empty when it is not JSON (see `parse_messages`)."""
        messages = parse_messages(body)
        return self.required_for_messages(messages) if messages is not None else []

    def required_for_messages(self, messages: list[Any]) -> list[str]:
        """Every permission the messages need, each once, in order."""
        needed: list[str] = []
        for message in messages:
            for permission in self.required_all(message):
                if permission not in needed:
                    needed.append(permission)
        return needed

    def required(self, message: Any) -> str | None:
        """The first permission one JSON-RPC message needs, or None (see `required_all`)."""
        needed = self.required_all(message)
        return needed[0] if needed else None

    def required_all(self, message: Any) -> list[str]:
        """Every permission one JSON-RPC message needs: empty for responses, notifications and
        methods mapped to nothing; `mcp.method:<method>` for a method not in the map."""
        if not isinstance(message, dict):
            return []
        method = message.get("method")
        if not isinstance(method, str):
            return []  # a response, or not JSON-RPC: the server refuses what it cannot read
        if method not in self.mapping:
            if method.startswith("notifications/") and "id" not in message:
                return []
            return [unknown_method_permission(method)]
        template = self.mapping[method]
        params = message.get("params")
        if template is None:
            return []
        if template == COMPUTED:
            return _COMPUTERS[method](params)
        if NAME not in template:
            return [template]
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str) or not name:
            return [template.replace(":" + NAME, "")]
        return [template.replace(NAME, name)]


def unknown_method_permission(method: str) -> str:
    """`mcp.method:<method>`, or `mcp.method` when the name cannot be a permission's object."""
    candidate = f"{UNKNOWN_METHOD_PERMISSION}:{method}"
    return candidate if is_permission_name(candidate) else UNKNOWN_METHOD_PERMISSION


def _validate(method: object, template: object) -> None:
    if not isinstance(method, str) or not method:
        raise ConfigurationError(f"method name {method!r} must be a non-empty string")
    if template is None or template == "":
        return
    if not isinstance(template, str):
        raise ConfigurationError(f"method {method!r}: the permission must be a string or null")
    if NAME in template and not template.endswith(":" + NAME):
        raise ConfigurationError(f"method {method!r}: {NAME} may only end a permission, as in tools.execute:{NAME}")
    if not is_permission_name(template.replace(":" + NAME, "")):
        raise ConfigurationError(f"method {method!r}: {template!r} is not a permission name")
