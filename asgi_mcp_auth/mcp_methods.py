"""Permissions for MCP JSON-RPC methods, checked before the MCP server sees the call.

`tools/call` needs `tools.execute:<params.name>`, which `tools.execute`, `tools.*` and `*`
grant. `initialize`, `ping` and notifications need nothing. A batch passes only when every
entry does. A body that is not JSON-RPC needs nothing here: the server answers its own error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_METHOD_PERMISSIONS", "MethodPermissions"]

DEFAULT_METHOD_PERMISSIONS: Mapping[str, str] = MappingProxyType(
    {
        "tools/list": "tools.read",
        "tools/call": "tools.execute:{name}",
        "resources/list": "resources.read",
        "resources/read": "resources.read",
        "resources/templates/list": "resources.read",
        "resources/subscribe": "resources.read",
        "prompts/list": "prompts.read",
        "prompts/get": "prompts.read",
    }
)


class MethodPermissions:
    """Maps JSON-RPC methods to the permissions they need. `{name}` is filled from `params.name`."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping = MappingProxyType(dict(DEFAULT_METHOD_PERMISSIONS if mapping is None else mapping))

    def required_for_body(self, body: bytes) -> list[str]:
        """The permissions a request body needs (empty when it is not JSON-RPC)."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
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
        if not isinstance(method, str) or method.startswith("notifications/"):
            return None
        template = self.mapping.get(method)
        if template is None or "{name}" not in template:
            return template
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str) or not name:
            return template.replace(":{name}", "").replace("{name}", "")
        return template.replace("{name}", name)
