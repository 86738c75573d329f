"""Permission names and how one grants another.

    *                           everything
    area.*                      every action of an area            tools.*
    area.action                 one action, for every object       tools.execute
    area.action:*               every object of an action          tools.execute:*
    area.action:<object>        one action on one object           tools.execute:echo

`area` and `action` are lower case (`[a-z][a-z0-9_-]*`), so scopes such as `openid`, `profile`,
`read:user` or `User.Read` are not permission names. An object is 1-128 characters of
`A-Z a-z 0-9 _ - . / @ +`, the characters MCP tool names use.

The names form a tree (`*` > `area.*` > `area.action` > `area.action:*` > `area.action:x`), so
two permissions grant a common name only when one of them grants the other: that makes
`narrow` an exact intersection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["expand", "grants", "is_permission_name", "narrow"]

_PART = r"[a-z][a-z0-9_-]*"
_OBJECT = r"[A-Za-z0-9_./@+-]{1,128}"
_PERMISSION = re.compile(rf"\*|{_PART}\.\*|{_PART}\.{_PART}(?::(?:\*|{_OBJECT}))?")


def is_permission_name(value: object) -> bool:
    """True for names of the grammar above; False for `openid`, `profile`, `tools.*x` ..."""
    return isinstance(value, str) and _PERMISSION.fullmatch(value) is not None


def grants(held: str, wanted: str) -> bool:
    """Does the permission `held` grant the permission `wanted`?

    `wanted` may name any object (`tools.execute:<any tool name>`); `held` should be a
    permission name. A held wildcard grants only names that continue it after its `.` or `:`.
    """
    if held == wanted or held == "*":
        return True
    if held.endswith((".*", ":*")):
        return wanted.startswith(held[:-1]) and len(wanted) > len(held) - 1
    base, colon, _ = wanted.partition(":")
    return bool(colon) and held == base


def narrow(granted: Iterable[str], scopes: Iterable[str]) -> frozenset[str]:
    """The permissions granted both by one of `granted` and by one of `scopes`.

    Each result is the more specific of a pair where one grants the other, so the result
    never grants anything that `granted` does not (scopes narrow, they never widen).
    """
    scope_set = frozenset(scopes)
    result: set[str] = set()
    for held in granted:
        for scope in scope_set:
            if grants(held, scope):
                result.add(scope)
            elif grants(scope, held):
                result.add(held)
    return frozenset(result)


def expand(held: Iterable[str], vocabulary: Iterable[str]) -> frozenset[str]:
    """`held` plus every name of `vocabulary` that it grants: what exact-match checks such as
    Starlette's `@requires("tools.read")` need to see for a holder of `*` or `tools.*`."""
    held_set = frozenset(held)
    return held_set | {name for name in vocabulary if any(grants(h, name) for h in held_set)}
