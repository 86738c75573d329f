"""The pytest plugin as a gateway author meets it: fixtures that need no key handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from asgi_mcp_auth import AuthSettings
from asgi_mcp_auth.testing import JWKSServer, SigningKey, TokenFactory, make_signing_key, mcp_client
from examples.fastapi_app.main import create_app

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.anyio

#: The README's "Test your gateway" example, with the example gateway as the app under test.
README_EXAMPLE = """
import pytest
from examples.fastapi_app.main import create_app

@pytest.mark.anyio
async def test_tools_see_the_caller(mcp_auth_settings, mcp_auth_tokens, mcp_auth_client):
    token = mcp_auth_tokens.make_token(sub="alice", roles=["developer"])
    async with mcp_auth_client(create_app(mcp_auth_settings), token=token) as session:
        assert (await session.call_tool("whoami", {})).structured_content["sub"] == "alice"
"""
REPO = Path(__file__).resolve().parents[2]


async def test_a_factory_token_reaches_a_tool_through_the_jwks_server(
    mcp_auth_settings: AuthSettings, mcp_auth_tokens: TokenFactory, mcp_auth_jwks: JWKSServer
) -> None:
    token = mcp_auth_tokens.make_token(sub="alice", roles=["developer"])

    async with mcp_client(create_app(mcp_auth_settings), token=token) as session:
        result = await session.call_tool("whoami", {})

    assert result.structured_content is not None
    assert result.structured_content["sub"] == "alice"
    assert mcp_auth_jwks.requests >= 1


@pytest.mark.parametrize("variant", ["expired", "wrong_audience"])
def test_expired_and_wrong_audience_tokens_are_refused_with_invalid_token(
    mcp_auth_settings: AuthSettings, mcp_auth_tokens: TokenFactory, variant: str
) -> None:
    bad = getattr(mcp_auth_tokens, variant)(sub="alice", roles=["admin"])
    good = mcp_auth_tokens.make_token(sub="alice", roles=["admin"])

    with TestClient(create_app(mcp_auth_settings)) as client:
        refused = client.get("/whoami", headers={"Authorization": f"Bearer {bad}"})
        accepted = client.get("/whoami", headers={"Authorization": f"Bearer {good}"})

    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert accepted.json()["sub"] == "alice"


@pytest.mark.parametrize("fixture", ["mcp_auth_hs_key", "mcp_auth_rs_key", "mcp_auth_es_key"])
def test_every_key_kind_signs_tokens_the_middleware_verifies(request: pytest.FixtureRequest, fixture: str) -> None:
    key: SigningKey = request.getfixturevalue(fixture)
    tokens = TokenFactory(key)
    verification = {"jwt_secret": key.signing_key} if key.public_pem is None else {"jwt_public_key": key.public_pem}
    settings = AuthSettings(jwt_algorithms=[key.algorithm], jwt_audience=tokens.audience, **verification)
    token = tokens.make_token(sub="carol", roles=["viewer"], scope="tools.read", team_roles={"team-a": ["developer"]})

    with TestClient(create_app(settings)) as client:
        answer = client.get("/whoami", headers={"Authorization": f"Bearer {token}"}).json()

    assert answer["sub"] == "carol"
    assert answer["permissions"] == ["tools.read"]


def test_a_rotated_key_set_is_served_to_the_next_fetch() -> None:
    old, new = make_signing_key("ES256"), make_signing_key("ES256")
    with JWKSServer(old) as server:
        server.publish(new)
        keys = httpx.get(server.url).json()["keys"]

    assert [key["kid"] for key in keys] == [new.kid]
    with pytest.raises(ValueError, match="HMAC"):
        JWKSServer(make_signing_key("HS256"))


def test_loading_the_plugin_imports_no_sdk_no_server_and_the_package_never_imports_it() -> None:
    probe = (
        "import sys, asgi_mcp_auth; before = set(sys.modules);"
        "assert 'asgi_mcp_auth.testing' not in before and 'asgi_mcp_auth.check' not in before;"
        "import asgi_mcp_auth.testing.plugin;"
        "added = set(sys.modules) - before;"
        "bad = sorted(m for m in added if m.split('.')[0] in ('uvicorn', 'httpx2') or m.startswith('mcp.client'));"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_the_readme_example_runs_in_a_fresh_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh directory and interpreter: only the installed plugin (pytest11) provides the fixtures.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makepyfile(test_gateway=README_EXAMPLE)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
