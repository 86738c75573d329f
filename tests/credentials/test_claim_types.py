"""Every claim the package reads x every JSON type: accepted when it is of the claim's type, else
401; never a 500, never an ERROR log record."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from apps import RecordingApp, client, protect
from tokens import AUDIENCE, claims, forge, settings, token

pytestmark = pytest.mark.anyio

NOW = int(time.time())
JSON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1.5,
    NOW + 600,
    "",
    "x",
    [],
    ["x"],
    [1],
    [None],
    {},
    {"a": ["viewer"]},
    {"a": 1},
]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string_list(value: Any) -> bool:
    return (
        value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    )


def _optional_string(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _team_roles(value: Any) -> bool:
    return value is None or (isinstance(value, dict) and all(_string_list(v) and v is not None for v in value.values()))


# claim -> which values are acceptable (audience checked separately: any value but ours is refused)
ACCEPTS = {
    "sub": lambda v: isinstance(v, str) and v != "",
    "exp": lambda v: _number(v) and v > NOW,
    "nbf": lambda v: _number(v) and v <= NOW,
    "iat": lambda v: _number(v) and v <= NOW,
    "iss": _optional_string,
    "client_id": _optional_string,
    "azp": _optional_string,
    "email": _optional_string,
    "name": _optional_string,
    "scope": _string_list,
    "scp": _string_list,
    "roles": _string_list,
    "teams": _string_list,
    "team_roles": _team_roles,
}
CASES = [(claim, value) for claim in ACCEPTS for value in JSON_VALUES]


@pytest.mark.parametrize(("claim", "value"), CASES, ids=[f"{c}={v!r}" for c, v in CASES])
async def test_a_claim_of_an_unexpected_json_type_is_a_401_never_a_500(
    claim: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = RecordingApp()
    # Signed with the right key by hand: PyJWT would refuse to build some of these.
    credential = forge({"alg": "HS256", "typ": "JWT"}, {**claims("alice"), claim: value})
    with caplog.at_level(logging.DEBUG):
        async with client(protect(app)) as http:
            response = await http.get("/tools", headers={"Authorization": f"Bearer {credential}"})

    assert response.status_code == (200 if ACCEPTS[claim](value) else 401)
    assert app.calls == (1 if response.status_code == 200 else 0)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
async def test_an_audience_of_any_json_type_but_a_string_or_list_of_strings_is_a_401(value: Any) -> None:
    app = RecordingApp()
    unchecked = settings(jwt_audience=None, jwt_verify_audience=False)
    async with client(protect(app, unchecked)) as http:
        response = await http.get("/tools", headers={"Authorization": f"Bearer {token('alice', aud=value)}"})

    assert response.status_code == (200 if _string_list(value) else 401)


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
async def test_a_checked_audience_is_refused_unless_it_names_this_resource(value: Any) -> None:
    async with client(protect(RecordingApp())) as http:
        refused = await http.get("/tools", headers={"Authorization": f"Bearer {token('alice', aud=value)}"})
        accepted = await http.get("/tools", headers={"Authorization": f"Bearer {token('alice', aud=[AUDIENCE])}"})

    assert refused.status_code == 401
    assert accepted.status_code == 200
