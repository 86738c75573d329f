"""RBAC: roles to permissions, wildcards, scope narrowing, team roles, Starlette's @requires."""

from __future__ import annotations

import logging

import pytest
from apps import client, protect
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from tokens import bearer, bound

from asgi_mcp_auth import PermissionDenied, RBACPolicy, principal_from
from asgi_mcp_auth.core.permissions import grants

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------- built-in roles


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("admin", "gateways.update", True),
        ("admin", "tools.execute:anything", True),
        ("admin", "admin.users", True),
        ("developer", "tools.read", True),
        ("developer", "tools.execute", True),
        ("developer", "tools.execute:echo", True),
        ("developer", "resources.read", True),
        ("developer", "prompts.read", True),
        ("developer", "gateways.read", True),
        ("developer", "gateways.update", False),
        ("developer", "admin.users", False),
        ("viewer", "tools.read", True),
        ("viewer", "resources.read", True),
        ("viewer", "prompts.read", True),
        ("viewer", "gateways.read", True),
        ("viewer", "tools.execute:echo", False),
        ("viewer", "gateways.update", False),
        ("no-such-role", "tools.read", False),
    ],
)
def test_builtin_roles_grant_what_the_roles_table_says(role: str, permission: str, allowed: bool) -> None:
    assert RBACPolicy().allows(bound([role]), permission) is allowed


def test_global_permissions_are_the_union_of_the_roles() -> None:
    policy = RBACPolicy({"reader": ["tools.read"], "operator": ["gateways.update"]})
    principal = bound(["reader", "operator"], policy=policy)

    assert policy.allows(principal, "tools.read")
    assert policy.allows(principal, "gateways.update")
    assert not policy.allows(principal, "tools.execute")


def test_wildcards_are_expanded_for_exact_match_checks_and_kept() -> None:
    principal = bound(["admin"])

    assert {"*", "tools.read", "tools.execute", "gateways.update"} <= principal.permissions


def test_check_raises_permission_denied_naming_the_permission() -> None:
    with pytest.raises(PermissionDenied) as excinfo:
        RBACPolicy().check(bound(["viewer"]), "gateways.update")

    assert excinfo.value.permission == "gateways.update"
    assert excinfo.value.status_code == 403


def test_check_passes_silently_when_the_permission_is_held() -> None:
    RBACPolicy().check(bound(["developer"]), "tools.execute:echo")


def test_unknown_role_in_a_token_is_ignored_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    policy = RBACPolicy()
    with caplog.at_level(logging.WARNING, logger="asgi_mcp_auth.rbac"):
        first = bound(["viewer", "superuser"], policy=policy)
        bound(["superuser"], policy=policy)

    assert first.permissions == bound(["viewer"]).permissions
    assert [record.getMessage() for record in caplog.records] == ["Ignoring unknown role 'superuser' named in a token"]


# --------------------------------------------------------------------------- scope narrowing


@pytest.mark.parametrize(
    ("roles", "scopes", "permission", "allowed"),
    [
        (["developer"], ["tools.read"], "tools.read", True),
        (["developer"], ["tools.read"], "tools.execute:echo", False),
        (["developer"], ["tools.execute:echo"], "tools.execute:echo", True),
        (["developer"], ["tools.execute:echo"], "tools.execute:rm", False),
        (["developer"], ["tools.execute:echo"], "tools.execute", False),
        (["developer"], ["tools.*"], "tools.execute:rm", True),
        (["developer"], ["tools.*"], "gateways.read", False),
        (["admin"], ["gateways.update"], "gateways.update", True),
        (["admin"], ["gateways.update"], "tools.read", False),
        (["admin"], ["tools.*"], "tools.execute:rm", True),
        (["viewer"], ["gateways.update"], "gateways.update", False),
        (["viewer"], ["*"], "tools.read", True),
        (["viewer"], ["*"], "tools.execute", False),
        (["developer"], ["openid", "profile", "email"], "tools.execute:echo", True),
        (["developer"], ["openid", "tools.read"], "tools.execute:echo", False),
        ([], ["tools.read"], "tools.read", False),
    ],
)
def test_scopes_that_are_permission_names_narrow_and_others_are_ignored(
    roles: list[str], scopes: list[str], permission: str, allowed: bool
) -> None:
    assert RBACPolicy().allows(bound(roles, scopes), permission) is allowed


PERMISSIONS = st.one_of(
    st.sampled_from(
        [
            "*",
            "tools.*",
            "tools.read",
            "tools.execute",
            "tools.execute:*",
            "tools.execute:echo",
            "tools.execute:rm",
            "resources.read",
            "gateways.*",
            "gateways.update",
            "admin.*",
        ]
    ),
    st.from_regex(r"[a-c]\.(\*|[a-c](:(\*|[a-c]))?)", fullmatch=True),
)
SCOPES = st.one_of(PERMISSIONS, st.sampled_from(["openid", "profile", "email", "offline_access", "User.Read"]))


@given(
    roles=st.dictionaries(st.sampled_from(["r1", "r2", "r3"]), st.lists(PERMISSIONS, max_size=4), max_size=3),
    held_roles=st.lists(st.sampled_from(["r1", "r2", "r3", "unknown"]), max_size=3),
    scopes=st.lists(SCOPES, max_size=4),
    wanted=PERMISSIONS,
)
def test_scopes_never_widen_effective_permissions(
    roles: dict[str, list[str]], held_roles: list[str], scopes: list[str], wanted: str
) -> None:
    policy = RBACPolicy(roles)
    with_scopes = bound(held_roles, scopes, {"team": held_roles}, policy=policy)
    without = bound(held_roles, (), {"team": held_roles}, policy=policy)

    for narrowed in (with_scopes.permissions, with_scopes.team_permissions["team"]):
        assert all(any(grants(held, p) for held in without.permissions) for p in narrowed)
    if policy.allows(with_scopes, wanted, "team"):
        assert policy.allows(without, wanted, "team")


# --------------------------------------------------------------------------- team roles


@pytest.mark.parametrize(
    ("team", "permission", "allowed"),
    [
        ("team-a", "tools.execute:echo", True),
        ("team-a", "gateways.read", True),
        ("team-a", "gateways.update", False),
        ("team-b", "tools.execute:echo", False),
        ("team-b", "tools.read", True),
        ("team-c", "tools.read", False),
        (None, "tools.execute:echo", False),
        (None, "tools.read", False),
    ],
)
def test_team_roles_grant_permissions_for_their_team_only(team: str | None, permission: str, allowed: bool) -> None:
    principal = bound(team_roles={"team-a": ["developer"], "team-b": ["viewer"]})

    assert RBACPolicy().allows(principal, permission, team) is allowed


def test_global_roles_count_in_every_team() -> None:
    principal = bound(["viewer"], team_roles={"team-a": ["developer"]})

    assert RBACPolicy().allows(principal, "tools.read", "team-z")
    assert not RBACPolicy().allows(principal, "tools.execute", "team-z")


def test_scopes_narrow_team_permissions_too() -> None:
    principal = bound(scopes=["tools.read"], team_roles={"team-a": ["admin"]})

    assert RBACPolicy().allows(principal, "tools.read", "team-a")
    assert not RBACPolicy().allows(principal, "gateways.update", "team-a")


async def test_token_claims_become_principal_permissions_and_team_permissions() -> None:
    async def whoami(request: Request) -> JSONResponse:
        principal = principal_from(request)
        assert principal is not None
        return JSONResponse(
            {
                "permissions": sorted(principal.permissions),
                "team_a": sorted(principal.team_permissions["team-a"]),
                "auth_scopes": sorted(request.auth.scopes),
            }
        )

    app = protect(Starlette(routes=[Route("/whoami", whoami)]))
    headers = bearer(roles=["viewer"], team_roles={"team-a": ["developer"]}, scope="openid tools.read tools.execute")
    async with client(app) as http:
        response = await http.get("/whoami", headers=headers)

    assert response.json() == {
        "permissions": ["tools.read"],
        "team_a": ["tools.execute", "tools.read"],
        "auth_scopes": ["authenticated", "tools.read"],
    }


# --------------------------------------------------------------------------- Starlette's @requires


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"roles": ["viewer"]}, 200),
        ({"roles": ["admin"]}, 200),
        ({"roles": ["admin"], "scope": "tools.*"}, 200),
        ({"roles": ["admin"], "scope": "gateways.update"}, 403),
        ({"roles": []}, 403),
        ({"team_roles": {"team-a": ["admin"]}}, 403),
    ],
)
async def test_starlette_requires_works_with_effective_permissions(claims: dict[str, object], status: int) -> None:
    @requires("tools.read")
    async def tools(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = protect(Starlette(routes=[Route("/tools", tools)]))
    async with client(app) as http:
        response = await http.get("/tools", headers=bearer(**claims))

    assert response.status_code == status
