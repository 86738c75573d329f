"""Reading `MCP_AUTH_RBAC_POLICY`: JSON text, or the path of a JSON or TOML file.

    {"extends_builtin": true,
     "roles": {"operator": ["gateways.*", "tools.read"]},
     "permissions": ["billing.read"]}

`extends_builtin` (default true) keeps the built-in roles, a role of the same name replacing
the built-in one; false uses only the roles given. `permissions` optionally names further
permissions an app checks with exact-match tools such as Starlette's `@requires`. Every fault
is a `ConfigurationError` naming the line (parse errors) or the role at fault.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError
from ..core.permissions import is_permission_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["PolicyDocument", "load_policy", "parse_json", "parse_policy"]

VARIABLE = "MCP_AUTH_RBAC_POLICY"
_KEYS = ("extends_builtin", "roles", "permissions")
_ROLE_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A validated policy: roles to permission names."""

    roles: Mapping[str, frozenset[str]]
    extends_builtin: bool = True
    permissions: frozenset[str] = frozenset()


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def parse_json(text: str, where: str) -> Any:
    """`text` parsed as JSON; a `ConfigurationError` naming the line and column on a fault,
    and refusing duplicate keys (a role defined twice is a mistake, not an override)."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise ConfigurationError(f"{where}: key {exc.key!r} appears twice") from None
    except RecursionError:
        raise ConfigurationError(f"{where}: JSON nested too deeply") from None


def load_policy(value: str, variable: str = VARIABLE) -> PolicyDocument:
    """Parse `value`: JSON text when it starts with `{`, else a file path (`.toml` for TOML)."""
    text = value.strip()
    if text.startswith(("{", "[")):
        return parse_policy(parse_json(text, variable), variable)
    path = Path(text).expanduser()
    where = f"{variable} ({path})"
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{where}: cannot read the file ({type(exc).__name__})") from None
    if path.suffix.lower() == ".toml":
        try:
            data: Any = tomllib.loads(content)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{where}: invalid TOML: {exc}") from None
    else:
        data = parse_json(content, where)
    return parse_policy(data, where)


def parse_policy(data: Any, where: str = VARIABLE) -> PolicyDocument:
    """Validate a parsed policy document."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"{where}: the policy must be an object with a 'roles' object")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})")
    extends = data.get("extends_builtin", True)
    if not isinstance(extends, bool):
        raise ConfigurationError(f"{where}: 'extends_builtin' must be true or false")
    roles = data.get("roles")
    if not isinstance(roles, dict):
        raise ConfigurationError(f"{where}: 'roles' must be an object of role names to lists of permissions")
    return PolicyDocument(
        roles={name: permission_list(perms, f"{where}: role {name!r}", role=name) for name, perms in roles.items()},
        extends_builtin=extends,
        permissions=permission_list(data.get("permissions", []), f"{where}: 'permissions'"),
    )


def permission_list(value: object, what: str, *, role: str | None = None) -> frozenset[str]:
    """`value` as a set of permission names, or a `ConfigurationError` that starts with `what`.

    A bare string is refused: `frozenset("tools.read")` would be a set of characters.
    """
    if role is not None and not (isinstance(role, str) and _ROLE_NAME.fullmatch(role)):
        raise ConfigurationError(f"{what}: a role name is 1-256 printable characters")
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
        raise ConfigurationError(f"{what} must be a list of permission names, not {type(value).__name__}")
    for item in value:
        if not is_permission_name(item):
            raise ConfigurationError(
                f"{what}: {item!r} is not a permission name (area.action, area.*, area.action:<name>, or *)"
            )
    return frozenset(value)
