"""Principal and its Starlette user."""

from __future__ import annotations

import pytest

from asgi_mcp_auth import Principal, TokenSource
from asgi_mcp_auth.core.principal import PrincipalUser


def test_principal_requires_a_non_empty_subject() -> None:
    with pytest.raises(TypeError):
        Principal(subject="")


def test_principal_mappings_are_read_only_copies() -> None:
    claims = {"sub": "alice", "nested": ["x"]}
    principal = Principal(subject="alice", claims=claims)
    claims["sub"] = "mallory"

    assert principal.claims["sub"] == "alice"
    with pytest.raises(TypeError):
        principal.claims["sub"] = "mallory"  # type: ignore[index]


def test_principal_repr_leaves_claims_out() -> None:
    principal = Principal(subject="alice", claims={"secret_claim": "value"})

    assert "secret_claim" not in repr(principal)


def test_token_source_is_a_string_enum_that_prints_as_its_value() -> None:
    assert isinstance(TokenSource.COOKIE, str)
    assert TokenSource.COOKIE.value == "cookie"
    assert str(TokenSource.HEADER) == "header"
    assert f"{TokenSource.HEADER}" == "header"


def test_principal_user_behaves_as_an_authenticated_starlette_user() -> None:
    user = PrincipalUser(Principal(subject="alice", email="alice@example.com"))

    assert user.is_authenticated
    assert user.identity == "alice"
    assert user.display_name == "alice@example.com"
    assert user.principal.subject == "alice"


def test_from_checked_takes_every_field_in_order_and_checks_the_subject_and_mappings() -> None:
    from dataclasses import fields
    from types import MappingProxyType

    full = Principal(
        subject="alice",
        issuer="https://idp",
        audience=("https://gw",),
        client_id="cli",
        email="a@example.com",
        name="Alice",
        roles=frozenset({"developer"}),
        scopes=frozenset({"mcp:read"}),
        teams=frozenset({"t"}),
        team_roles={"t": frozenset({"viewer"})},
        permissions=frozenset({"tools.read"}),
        team_permissions={"t": frozenset({"tools.read"})},
        expires_at=5,
        claims={"sub": "alice"},
    )
    values = [getattr(full, field.name) for field in fields(Principal)]
    rebuilt = Principal._from_checked(*values)

    assert rebuilt == full
    assert rebuilt.claims == full.claims
    assert [getattr(rebuilt, field.name) for field in fields(Principal)] == values
    with pytest.raises(TypeError):
        Principal._from_checked("", *values[1:])
    with pytest.raises(TypeError):
        Principal._from_checked(*values[:-1], {"sub": "alice"})
    with pytest.raises(TypeError):
        Principal._from_checked(*values[:-1])
    assert isinstance(rebuilt.claims, MappingProxyType)
