"""The RBAC policy file: JSON text, JSON and TOML files, and their faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apps import client, protect
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tokens import bearer, bound, settings

from asgi_mcp_auth import ConfigurationError, RBACPolicy

pytestmark = pytest.mark.anyio


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
