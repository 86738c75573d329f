"""Nothing leaks, nothing forges: audit fields are escaped, token holders redact the token."""

from __future__ import annotations

import logging

import pytest
from apps import RecordingApp, client, protect
from tokens import claims, forge, token

from asgi_mcp_auth import Credential, Principal, TokenSource
from asgi_mcp_auth.credentials.revocation import revocation_key
from asgi_mcp_auth.pipeline.authenticator import Identity
from asgi_mcp_auth.pipeline.users import make_user
from asgi_mcp_auth.policy.precedence import canonical_header

pytestmark = pytest.mark.anyio

TOKEN = token("alice")


@pytest.mark.parametrize(
    "subject",
    [
        "alice\r\nauth authenticated status=200 subject='admin'",
        "alice\nx",
        "alice\u2028x",
        "alice\x00\x1b[31m",
        "a\x85b",
    ],
)
async def test_audit_record_with_crlf_in_sub_is_one_line_regression(
    subject: str, caplog: pytest.LogCaptureFixture
) -> None:
    crafted = forge({"alg": "HS256", "typ": "JWT"}, {**claims(subject), "roles": ["viewer"]})
    with caplog.at_level(logging.DEBUG, logger="asgi_mcp_auth.audit"):
        async with client(protect(RecordingApp())) as http:
            await http.get("/tools", headers={"Authorization": f"Bearer {crafted}"})

    (record,) = [r for r in caplog.records if r.name == "asgi_mcp_auth.audit"]
    line = record.getMessage()
    assert len(line.splitlines()) == 1
    assert not any(ch in line for ch in "\u2028\x85\x00\x1b")
    assert all(ch.isprintable() for ch in str(record.audit["subject"]))  # type: ignore[attr-defined]


async def test_every_audit_field_is_escaped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="asgi_mcp_auth.audit"):
        async with client(protect(RecordingApp())) as http:
            await http.get("/tools%0D%0Ax", headers={"Authorization": "Bearer not.a.jwt"})

    (record,) = [r for r in caplog.records if r.name == "asgi_mcp_auth.audit"]
    for value in record.audit.values():  # type: ignore[attr-defined]
        assert not any(ch in str(value) for ch in "\r\n")


@pytest.mark.parametrize("credential", [TOKEN, canonical_header(TOKEN)], ids=["cookie", "header"])
def test_identity_repr_and_str_never_show_the_token(credential: str | bytes) -> None:
    principal = Principal(subject="alice")
    identity = Identity(
        principal=principal,
        user=make_user(principal, credential),
        auth=None,  # type: ignore[arg-type]
        credential=credential,
        revocation_key=revocation_key(principal, TOKEN),
    )

    assert identity.token == TOKEN
    assert identity.user.access_token.token == TOKEN  # type: ignore[attr-defined]
    assert TOKEN not in repr(identity)
    assert TOKEN not in str(identity)
    assert f"<{len(TOKEN)} chars>" in repr(identity)


def test_sdk_user_and_its_access_token_never_show_the_token() -> None:
    user = make_user(Principal(subject="alice"), TOKEN)
    access_token = user.access_token  # type: ignore[attr-defined]

    assert access_token.token == TOKEN  # the SDK still gets the real value
    for text in (repr(user), str(user), repr(access_token), str(access_token)):
        assert TOKEN not in text


def test_credential_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(Credential(TOKEN, TokenSource.HEADER))
    assert TOKEN not in str(Credential(TOKEN, TokenSource.HEADER))
