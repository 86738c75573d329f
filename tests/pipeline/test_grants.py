"""`request.auth` is shared by identities with the same permissions: it cannot be changed."""

from __future__ import annotations

import pytest
from apps import client, protect
from starlette.types import Receive, Scope, Send
from tokens import token

from asgi_mcp_auth.pipeline.grants import GrantedCredentials, granted_credentials

pytestmark = pytest.mark.anyio


def test_equal_permission_sets_share_one_object_with_authenticated_first() -> None:
    first = granted_credentials(frozenset({"tools:call", "mcp:read"}))
    second = granted_credentials(frozenset({"mcp:read", "tools:call"}))

    assert first is second
    assert first.scopes == ["authenticated", "mcp:read", "tools:call"]


def test_scopes_cannot_be_changed_in_place_or_replaced() -> None:
    granted = GrantedCredentials(frozenset({"mcp:read"}))
    granted.scopes.append("admin")

    with pytest.raises(AttributeError):
        granted.scopes = ["admin"]
    assert granted.scopes == ["authenticated", "mcp:read"]


async def test_a_route_appending_to_request_auth_scopes_grants_nobody_anything_regression() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes = scope["auth"].scopes
        seen = ",".join(scopes)
        scopes.append("admin")  # a careless route: must not reach the next caller
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": seen.encode()})

    async with client(protect(app)) as http:
        first = await http.get("/x", headers={"authorization": f"Bearer {token('alice', roles=['viewer'])}"})
        second = await http.get("/x", headers={"authorization": f"Bearer {token('bob', roles=['viewer'])}"})

    assert first.text == second.text
    assert "admin" not in second.text.split(",")
