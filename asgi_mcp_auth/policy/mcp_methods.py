"""Permissions for MCP JSON-RPC methods, checked before the MCP server sees the call.

`tools/call` needs `tools.execute:<params.name>`, which `tools.execute`, `tools.*` and `*`
grant; without a string name it needs `tools.execute` itself. `initialize`, `ping`,
notifications, responses and methods not in the map need nothing. A batch passes only when
every entry does. A body that is not JSON needs nothing here: the server answers its own error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..core.errors import ConfigurationError, InvalidRequest
from ..core.permissions import is_permission_name
from .policy_file import parse_json

__all__ = ["DEFAULT_METHOD_PERMISSIONS", "MethodPermissions"]

VARIABLE = "MCP_AUTH_MCP_METHOD_PERMISSIONS"
NAME = "{name}"

DEFAULT_METHOD_PERMISSIONS: Mapping[str, str] = MappingProxyType(
    {
        "tools/list": "tools.read",
        "tools/call": "tools.execute:{name}",
        "resources/list": "resources.read",
        "resources/read": "resources.read",
        "resources/templates/list": "resources.read",
        "resources/subscribe": "resources.read",
        "resources/unsubscribe": "resources.read",
        "prompts/list": "prompts.read",
        "prompts/get": "prompts.read",
    }
)


class AmbiguousBody(InvalidRequest):
    default_message = "Ambiguous JSON-RPC body"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on duplicate keys (first or last wins): one the check reads and the
    # server another would let `{"method":"ping","method":"tools/call"}` through unchecked.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise AmbiguousBody("Ambiguous JSON-RPC body: duplicate key")
    return result


class MethodPermissions:
    """Maps JSON-RPC methods to the permissions they need; `{name}` is filled from `params.name`.

    `mapping` is laid over `DEFAULT_METHOD_PERMISSIONS` (`include_defaults=False`: used alone);
    a method mapped to None or "" needs nothing. A template that is not a permission name once
    `{name}` is filled is a `ConfigurationError` naming the method.
    """

    def __init__(self, mapping: Mapping[str, str | None] | None = None, *, include_defaults: bool = True) -> None:
        merged: dict[str, str | None] = dict(DEFAULT_METHOD_PERMISSIONS) if include_defaults else {}
        merged.update(mapping or {})
        for method, template in merged.items():
            _validate(method, template)
        self.mapping: Mapping[str, str] = MappingProxyType({m: t for m, t in merged.items() if t})

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
        """The permissions a request body needs: empty when it is not JSON.

        Raises `InvalidRequest` for JSON that parsers may read differently (duplicate keys,
        nesting too deep for this parser): refusing beats letting it through unchecked.
        """
        try:
            payload = json.loads(body, object_pairs_hook=_unique_keys)
        except RecursionError:
            raise AmbiguousBody("JSON-RPC body nested too deeply") from None
        except AmbiguousBody:
            raise
        except ValueError:
            return []
        entries = payload if isinstance(payload, list) else [payload]
        needed: list[str] = []
        for entry in entries:
            permission = self.required(entry)
            if permission is not None and permission not in needed:
                needed.append(permission)
        return needed

    def required(self, message: Any) -> str | None:
        """The permission one JSON-RPC message needs, or None."""
        if not isinstance(message, dict):
            return None
        method = message.get("method")
        if not isinstance(method, str):
            return None  # a response, or not JSON-RPC: the server refuses what it cannot read
        template = self.mapping.get(method)
        if template is None or NAME not in template:
            return template
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str) or not name:
            return template.replace(":" + NAME, "")
        return template.replace(NAME, name)


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
