"""Permission names: the grammar, and how one grants another."""

from __future__ import annotations

import pytest

from asgi_mcp_auth.core.permissions import grants, is_permission_name

# --------------------------------------------------------------------------- names and matching


@pytest.mark.parametrize(
    ("held", "wanted", "granted"),
    [
        ("tools.read", "tools.read", True),
        ("tools.read", "tools.execute", False),
        ("*", "gateways.update", True),
        ("*", "tools.execute:echo", True),
        ("tools.*", "tools.execute", True),
        ("tools.*", "tools.execute:echo", True),
        ("tools.*", "resources.read", False),
        ("tools.*", "toolsx.read", False),
        ("tools.execute", "tools.execute:echo", True),
        ("tools.execute", "tools.execute:a:b", True),
        ("tools.execute", "tools.executeall", False),
        ("tools.execute:*", "tools.execute:echo", True),
        ("tools.execute:*", "tools.execute", False),
        ("tools.execute:echo", "tools.execute:echo", True),
        ("tools.execute:echo", "tools.execute:echo2", False),
        ("tools.execute:echo", "tools.execute", False),
        ("tools.execute:echo", "tools.execute:echo:x", False),
        ("tools.read", "tools.execute:echo", False),
        ("admin.*", "admin.users", True),
        ("admin.*", "gateways.update", False),
        ("gateways.read", "gateways.update", False),
    ],
)
def test_held_permission_grants_wanted_one_by_wildcard_and_per_tool_rules(
    held: str, wanted: str, granted: bool
) -> None:
    assert grants(held, wanted) is granted


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("*", True),
        ("tools.read", True),
        ("tools.*", True),
        ("admin.*", True),
        ("tools.execute:echo", True),
        ("tools.execute:*", True),
        ("tools.execute:weather-api__get.forecast", True),
        ("gateway_2.update", True),
        ("openid", False),
        ("profile", False),
        ("offline_access", False),
        ("read:user", False),
        ("User.Read", False),
        ("api://gw/tools.read", False),
        ("tools.", False),
        (".read", False),
        ("tools.*x", False),
        ("*.read", False),
        ("tools.read.all", False),
        ("tools.execute:", False),
        ("tools.execute:ec*ho", False),
        ("tools.execute:echo tool", False),
        ("tools.read\n", False),
        ("", False),
    ],
)
def test_permission_names_follow_area_action_grammar(value: str, valid: bool) -> None:
    assert is_permission_name(value) is valid
