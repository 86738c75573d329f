"""RBAC: roles to permissions, wildcards, per-tool names, scope narrowing, team roles, the policy
file, and the Starlette decorator."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from apps import client, protect
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from tokens import settings, token

from asgi_mcp_auth import ConfigurationError, PermissionDenied, Principal, RBACPolicy, principal_from
from asgi_mcp_auth.core.permissions import grants, is_permission_name
from asgi_mcp_auth.integrations.starlette import requires_permission

pytestmark = pytest.mark.anyio

METADATA_URL = "https://gw.example.com/.well-known/oauth-protected-resource"


def bound(
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    team_roles: Mapping[str, Iterable[str]] | None = None,
    policy: RBACPolicy | None = None,
) -> Principal:
    principal = Principal(
        subject="alice",
        roles=frozenset(roles),
        scopes=frozenset(scopes),
        team_roles={team: frozenset(r) for team, r in (team_roles or {}).items()},
    )
    return (policy or RBACPolicy()).bind(principal)


def bearer(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('alice', **claims)}"}


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


# --------------------------------------------------------------------------- requires_permission


def gateway_app(**options: object) -> Starlette:
    @requires_permission("gateways.update")
    async def update(request: Request) -> JSONResponse:
        principal = principal_from(request)
        return JSONResponse({"updated_by": principal.subject if principal else None})

    @requires_permission("tools.execute", team_param="team_id")
    def team_tools(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"ran in {request.path_params['team_id']}")

    @requires_permission("tools.read")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("tools")
        await websocket.close()

    routes = [
        Route("/gateways/update", update, methods=["POST"]),
        Route("/open/update", update, methods=["POST"]),
        Route("/teams/{team_id}/tools", team_tools),
        WebSocketRoute("/feed", feed),
    ]
    return Starlette(routes=routes)


async def test_requires_permission_runs_the_endpoint_when_the_permission_is_held() -> None:
    async with client(protect(gateway_app())) as http:
        response = await http.post("/gateways/update", headers=bearer(roles=["admin"]))

    assert response.status_code == 200
    assert response.json() == {"updated_by": "alice"}


async def test_requires_permission_answers_403_with_an_insufficient_scope_challenge() -> None:
    async with client(protect(gateway_app())) as http:
        response = await http.post("/gateways/update", headers=bearer(roles=["developer"]))

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Permission denied: gateways.update required", '
        'scope="gateways.update"'
    )
    assert response.json() == {"detail": "Permission denied: gateways.update required"}


async def test_requires_permission_answers_401_to_an_anonymous_request() -> None:
    app = protect(gateway_app(), settings(public_paths=["/open/update"], resource_metadata_url=METADATA_URL))
    async with client(app) as http:
        response = await http.post("/open/update")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer resource_metadata="{METADATA_URL}"'


@pytest.mark.parametrize(
    ("team_roles", "path", "status"),
    [
        ({"team-a": ["developer"]}, "/teams/team-a/tools", 200),
        ({"team-a": ["developer"]}, "/teams/team-b/tools", 403),
        ({"team-a": ["viewer"]}, "/teams/team-a/tools", 403),
    ],
)
async def test_requires_permission_takes_the_team_from_a_path_parameter(
    team_roles: dict[str, list[str]], path: str, status: int
) -> None:
    async with client(protect(gateway_app())) as http:
        response = await http.get(path, headers=bearer(team_roles=team_roles))

    assert response.status_code == status


def test_requires_permission_closes_a_websocket_of_a_principal_without_the_permission() -> None:
    with TestClient(protect(gateway_app()), base_url="https://gw.example.com") as http:
        with http.websocket_connect("/feed", headers=bearer(roles=["viewer"])) as ws:
            assert ws.receive_text() == "tools"
        with pytest.raises(WebSocketDisconnect) as excinfo, http.websocket_connect("/feed", headers=bearer(roles=[])):
            pass

    assert excinfo.value.code == 1008


@pytest.mark.parametrize(
    ("permission", "options"),
    [("gateways", {}), ("tools.read ", {}), ("tools.read", {"team": "a", "team_param": "team_id"})],
)
def test_requires_permission_refuses_a_bad_declaration_at_import_time(permission: str, options: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        requires_permission(permission, **options)


# --------------------------------------------------------------------------- the policy file


def test_policy_json_text_extends_the_builtin_roles() -> None:
    policy = RBACPolicy.from_settings(settings(rbac_policy='{"roles": {"operator": ["gateways.*", "tools.read"]}}'))

    assert policy.allows(bound(["operator"], policy=policy), "gateways.update")
    assert not policy.allows(bound(["operator"], policy=policy), "tools.execute")
    assert policy.allows(bound(["viewer"], policy=policy), "tools.read")


def test_policy_can_replace_the_builtin_roles() -> None:
    text = json.dumps({"extends_builtin": False, "roles": {"operator": ["gateways.*"]}})
    policy = RBACPolicy.from_settings(settings(rbac_policy=text))

    assert sorted(policy.roles) == ["operator"]
    assert not policy.allows(bound(["admin"], policy=policy), "tools.read")


def test_policy_role_of_a_builtin_name_replaces_the_builtin_role() -> None:
    policy = RBACPolicy.from_source('{"roles": {"viewer": ["tools.read"]}}')

    assert policy.allows(bound(["viewer"], policy=policy), "tools.read")
    assert not policy.allows(bound(["viewer"], policy=policy), "gateways.read")


def test_policy_is_read_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"roles": {"operator": ["gateways.update"]}}))

    policy = RBACPolicy.from_settings(settings(rbac_policy=str(path)))

    assert policy.allows(bound(["operator"], policy=policy), "gateways.update")


def test_policy_is_read_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'extends_builtin = false\npermissions = ["billing.read"]\n\n[roles]\n'
        'operator = ["gateways.*", "tools.read"]\n"team-lead" = ["tools.execute:deploy"]\nauditor = ["*"]\n'
    )

    policy = RBACPolicy.from_settings(settings(rbac_policy=str(path)))

    assert sorted(policy.roles) == ["auditor", "operator", "team-lead"]
    assert policy.allows(bound(["team-lead"], policy=policy), "tools.execute:deploy")
    assert not policy.allows(bound(["team-lead"], policy=policy), "tools.execute:rm")
    assert "billing.read" in bound(["auditor"], policy=policy).permissions


async def test_policy_from_the_environment_is_the_one_the_middleware_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_RBAC_POLICY", '{"roles": {"operator": ["gateways.update"]}}')

    @requires("gateways.update")
    async def update(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = protect(Starlette(routes=[Route("/update", update)]))
    async with client(app) as http:
        operator = await http.get("/update", headers=bearer(roles=["operator"]))
        developer = await http.get("/update", headers=bearer(roles=["developer"]))

    assert (operator.status_code, developer.status_code) == (200, 403)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('{"roles": {\n  "operator": ["tools.read",]\n}}', "invalid JSON at line 2, column 29"),
        ('{"roles": {"operator": "tools.read"}}', "role 'operator' must be a list of permission names, not str"),
        ('{"roles": {"operator": {"tools": "read"}}}', "role 'operator' must be a list of permission names"),
        ('{"roles": {"operator": ["tools.read", "gateways"]}}', "role 'operator': 'gateways' is not a permission name"),
        ('{"roles": {"operator": ["tools.*x"]}}', "role 'operator': 'tools.*x' is not a permission name"),
        ('{"roles": {"operator": [42]}}', "role 'operator': 42 is not a permission name"),
        ('{"roles": {"ops": ["tools.read"], "ops": ["*"]}}', "key 'ops' appears twice"),
        ('{"role": {"operator": ["tools.read"]}}', "unknown key 'role'"),
        ('{"roles": ["operator"]}', "'roles' must be an object"),
        ('{"extends_builtin": "yes", "roles": {}}', "'extends_builtin' must be true or false"),
        ('{"roles": {}, "permissions": "billing.read"}', "'permissions' must be a list of permission names"),
        ("[]", "the policy must be an object"),
    ],
)
def test_malformed_policy_text_fails_at_startup_naming_the_fault(policy: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="MCP_AUTH_RBAC_POLICY") as excinfo:
        settings(rbac_policy=policy)

    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("policy.toml", '[roles]\noperator = ["tools.read"\n', "invalid TOML"),
        ("policy.toml", '[roles]\noperator = "tools.read"\n', "role 'operator' must be a list"),
        ("policy.toml", "[roles]\noperator = [1]\n", "role 'operator': 1 is not a permission name"),
        ("policy.json", '{"roles": {\n\n  "ops": [tools.read]}}', "invalid JSON at line 3, column 11"),
        ("policy.json", '{"roles": {"ops": ["tools.read"]}}\n', None),
    ],
)
def test_malformed_policy_file_fails_at_startup_naming_the_file_and_fault(
    tmp_path: Path, name: str, content: str, message: str | None
) -> None:
    path = tmp_path / name
    path.write_text(content)

    if message is None:
        settings(rbac_policy=str(path))
        return
    with pytest.raises(ConfigurationError, match="MCP_AUTH_RBAC_POLICY") as excinfo:
        settings(rbac_policy=str(path))

    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_invalid_toml_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[roles]\noperator = ["tools.read"]\nbroken = \n')

    with pytest.raises(ConfigurationError, match=r"line 3"):
        settings(rbac_policy=str(path))


def test_missing_policy_file_fails_at_startup(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"

    with pytest.raises(ConfigurationError, match=r"MCP_AUTH_RBAC_POLICY \(.*nowhere\.json\): file not found"):
        settings(rbac_policy=str(missing))


@pytest.mark.parametrize(
    "roles",
    [{"ops": "tools.read"}, {"ops": ["tools.read", "bogus"]}, {"": ["tools.read"]}],
)
def test_policy_built_in_code_is_validated_like_a_policy_file(roles: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="RBAC role"):
        RBACPolicy(roles)  # type: ignore[arg-type]
