"""Deny by default: every client-to-server method is mapped; anything else needs `mcp.method:<m>`."""

from __future__ import annotations

from typing import Any

import pytest
from apps import RecordingApp, client, protect
from mcp_types.methods import CLIENT_REQUESTS
from tokens import token

from asgi_mcp_auth import PermissionDenied, Principal
from asgi_mcp_auth.policy.mcp_methods import DEFAULT_METHOD_PERMISSIONS, MethodPermissions
from asgi_mcp_auth.policy.rbac import RBACPolicy

# The tasks extension's requests are not in the SDK's core surface map.
TASKS_EXTENSION = {"tasks/get", "tasks/result", "tasks/list", "tasks/cancel"}

LISTEN_ALL = {
    "notifications": {
        "toolsListChanged": True,
        "promptsListChanged": True,
        "resourcesListChanged": True,
        "resourceSubscriptions": ["file:///a"],
    }
}

# method, params, every permission it needs (empty: free)
DEFAULT_TABLE: list[tuple[str, dict[str, Any], set[str]]] = [
    ("initialize", {}, set()),
    ("ping", {}, set()),
    ("server/discover", {}, set()),
    ("logging/setLevel", {"level": "debug"}, set()),
    ("tools/list", {}, {"tools.read"}),
    ("tools/call", {"name": "echo"}, {"tools.execute:echo"}),
    ("tools/call", {}, {"tools.execute"}),
    ("resources/list", {}, {"resources.read"}),
    ("resources/read", {"uri": "file:///a"}, {"resources.read"}),
    ("resources/templates/list", {}, {"resources.read"}),
    ("resources/subscribe", {"uri": "file:///a"}, {"resources.read"}),
    ("resources/unsubscribe", {"uri": "file:///a"}, {"resources.read"}),
    ("prompts/list", {}, {"prompts.read"}),
    ("prompts/get", {"name": "p"}, {"prompts.read"}),
    ("completion/complete", {"ref": {"type": "ref/prompt", "name": "p"}}, {"prompts.read"}),
    ("completion/complete", {"ref": {"type": "ref/resource", "uri": "file:///{x}"}}, {"resources.read"}),
    ("completion/complete", {}, {"prompts.read", "resources.read"}),
    ("subscriptions/listen", {"notifications": {"toolsListChanged": True}}, {"tools.read"}),
    ("subscriptions/listen", {"notifications": {"promptsListChanged": True}}, {"prompts.read"}),
    ("subscriptions/listen", {"notifications": {"resourceSubscriptions": ["file:///a"]}}, {"resources.read"}),
    ("subscriptions/listen", {"notifications": {"toolsListChanged": False}}, set()),
    ("subscriptions/listen", LISTEN_ALL, {"tools.read", "prompts.read", "resources.read"}),
    ("subscriptions/listen", {"notifications": "all"}, {"tools.read", "prompts.read", "resources.read"}),
    ("tasks/list", {}, {"tools.read"}),
    ("tasks/get", {"taskId": "t"}, {"tools.read"}),
    ("tasks/result", {"taskId": "t"}, {"tools.execute"}),
    ("tasks/cancel", {"taskId": "t"}, {"tools.execute"}),
    # Not in the map: deny by default, naming what would grant it.
    ("sampling/createMessage", {}, {"mcp.method:sampling/createMessage"}),
    ("tools/delete", {}, {"mcp.method:tools/delete"}),
    ("admin/shutdown", {}, {"mcp.method:admin/shutdown"}),
    ("Tools/Call", {"name": "echo"}, {"mcp.method:Tools/Call"}),
    ("weird method!", {}, {"mcp.method"}),
    ("notifications/initialized-but-with-id", {}, {"mcp.method:notifications/initialized-but-with-id"}),
]


def test_the_default_map_covers_every_client_request_method_the_sdk_knows() -> None:
    sdk_methods = {method for method, _version in CLIENT_REQUESTS}

    assert sdk_methods | TASKS_EXTENSION <= set(DEFAULT_METHOD_PERMISSIONS)


@pytest.mark.parametrize(("method", "params", "needed"), DEFAULT_TABLE)
def test_each_method_needs_exactly_its_permissions(method: str, params: dict[str, Any], needed: set[str]) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}

    assert set(MethodPermissions().required_all(message)) == needed


@pytest.mark.parametrize(("method", "params", "needed"), DEFAULT_TABLE)
def test_each_method_is_allowed_with_its_permissions_and_refused_without_one(
    method: str, params: dict[str, Any], needed: set[str]
) -> None:
    rbac = RBACPolicy()
    methods = MethodPermissions()
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    holder = Principal(subject="holder", permissions=frozenset(needed))

    def check(principal: Principal) -> None:
        for permission in methods.required_all(message):
            rbac.check(principal, permission)

    check(holder)
    for missing in needed:
        lacking = Principal(subject="lacking", permissions=frozenset(needed - {missing}))
        with pytest.raises(PermissionDenied) as refused:
            check(lacking)
        assert refused.value.permission == missing


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
        {"jsonrpc": "2.0", "method": "notifications/some-future-kind"},
        {"jsonrpc": "2.0", "id": 1, "result": {}},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "no"}},
    ],
)
def test_notifications_and_responses_from_the_client_stay_free(message: dict[str, Any]) -> None:
    assert MethodPermissions().required_all(message) == []


def test_an_operator_may_map_an_unknown_method_or_free_it_with_null() -> None:
    methods = MethodPermissions({"sampling/createMessage": "tools.execute", "vendor/ping": None})

    assert methods.required({"id": 1, "method": "sampling/createMessage"}) == "tools.execute"
    assert methods.required({"id": 1, "method": "vendor/ping"}) is None
    assert methods.required({"id": 1, "method": "vendor/other"}) == "mcp.method:vendor/other"


def test_an_operator_entry_replaces_a_computed_default() -> None:
    methods = MethodPermissions({"subscriptions/listen": "admin.listen"})

    assert methods.required_all({"id": 1, "method": "subscriptions/listen", "params": LISTEN_ALL}) == ["admin.listen"]


def test_admin_holds_unknown_methods_through_the_wildcard() -> None:
    admin = RBACPolicy().bind(Principal(subject="root", roles=frozenset({"admin"})))

    RBACPolicy().check(admin, "mcp.method:vendor/anything")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "params", "roles", "scope", "status"),
    [
        ("subscriptions/listen", {"notifications": {"toolsListChanged": True}}, ["developer"], "prompts.read", 403),
        ("subscriptions/listen", {"notifications": {"promptsListChanged": True}}, ["developer"], "prompts.read", 200),
        ("tasks/result", {"taskId": "t"}, ["viewer"], None, 403),
        ("tasks/result", {"taskId": "t"}, ["developer"], None, 200),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "p"}}, [], None, 403),
        ("server/discover", {}, [], None, 200),
        ("vendor/undocumented", {}, ["developer"], None, 403),
    ],
)
async def test_methods_added_by_protocol_2026_07_28_need_permissions_regression(
    method: str, params: dict[str, Any], roles: list[str], scope: str | None, status: int
) -> None:
    inner = RecordingApp()
    credential = token("caller", roles=roles, scope=scope if scope else ...)  # Ellipsis: no scope claim
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with client(protect(inner)) as http:
        response = await http.post("/mcp/", json=body, headers={"Authorization": f"Bearer {credential}"})

    assert response.status_code == status
    assert inner.calls == (1 if status == 200 else 0)
