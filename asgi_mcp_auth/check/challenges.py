"""RFC 6750 challenges on refusals and RFC 9728 protected resource metadata."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .model import CheckResult
from .probe import Prober
from .results import failed, passed, skipped
from .wire import Reply

__all__ = ["bearer_challenge", "resource_metadata", "resource_metadata_url"]

BEARER_CHALLENGE = "bearer-challenge"
RESOURCE_METADATA = "resource-metadata"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _bearer_params(reply: Reply) -> dict[str, str] | None:
    """The parameters of the `Bearer` challenge in WWW-Authenticate, or None without one."""
    for value in reply.headers.get_list("www-authenticate"):
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            return {match[1].lower(): match[2] if match[2] is not None else match[3] for match in _PARAM.finditer(rest)}
    return None


def resource_metadata_url(reply: Reply) -> str | None:
    params = _bearer_params(reply)
    return params.get("resource_metadata") if params else None


async def bearer_challenge(prober: Prober) -> CheckResult:
    """RFC 6750 §3: a request without a bearer token (none, or another scheme) gets 401 with a
    `Bearer` challenge and no error code; a bad token 401 with `error="invalid_token"`; a
    403 for a missing permission carries `error="insufficient_scope"`."""
    cases = [
        ("no credential", {}, None),
        ("Authorization: Basic", {"authorization": "Basic dXNlcjpwYXNzd29yZA=="}, None),
        ("an invalid token", {"authorization": "Bearer invalid.jwt.token"}, "invalid_token"),
    ]
    for label, headers, error in cases:
        reply = await prober.initialize(headers=headers)
        params = _bearer_params(reply)
        if reply.status != 401:
            return failed(BEARER_CHALLENGE, f"{label}: HTTP {reply.status}, expected 401", reply)
        if params is None:
            return failed(BEARER_CHALLENGE, f"{label}: 401 without a Bearer challenge in WWW-Authenticate", reply)
        if params.get("error") != error:
            expected = f'error="{error}"' if error else "no error code (RFC 6750 §3.1)"
            return failed(
                BEARER_CHALLENGE, f"{label}: challenge has error={params.get('error')!r}, expected {expected}", reply
            )
    extra = ""
    role, tool = prober.target.unprivileged_role, prober.target.probe_tool
    if role in prober.target.tokens and tool is not None:
        _opened, called = await prober.call_tool_in_session(
            tool, prober.target.tool_arguments, headers=prober.bearer(role)
        )
        if called is not None and called.status == 403:
            params = _bearer_params(called)
            if params is None or params.get("error") != "insufficient_scope":
                return failed(
                    BEARER_CHALLENGE, 'a 403 for a missing permission lacks error="insufficient_scope"', called
                )
            extra = '; 403 carries error="insufficient_scope"'
    return passed(BEARER_CHALLENGE, f"401 challenges for no credential, Basic and a bad token{extra}")


def _expected_well_known_path(resource: str) -> str:
    # RFC 9728 §3.1: the well-known string goes between the host and the resource's path.
    path = urlsplit(resource).path
    return WELL_KNOWN + ("" if path in ("", "/") else path)


async def resource_metadata(prober: Prober) -> CheckResult:
    """RFC 9728: the metadata the 401 challenge names (else the well-known URL of the MCP path)
    is JSON with a `resource` and its `authorization_servers`, served at the well-known path that
    `resource` implies (§3.3: clients must reject a mismatch).

    The metadata URL is fetched from the gateway's own origin: behind a proxy the advertised
    URL names the public host, but the path is what matters.
    """
    challenge = await prober.initialize(headers={})
    if challenge.status != 401:
        return skipped(RESOURCE_METADATA, f"no 401 to read a challenge from (HTTP {challenge.status})")
    advertised = resource_metadata_url(challenge)
    candidates = [urlsplit(advertised).path] if advertised else []
    mcp = prober.target.mcp_path.rstrip("/")
    candidates += [WELL_KNOWN + mcp, WELL_KNOWN]
    for path in dict.fromkeys(candidates):
        reply = await prober.send("GET", path, headers={"accept": "application/json"})
        if not reply.ok:
            if advertised and path == candidates[0]:
                return failed(RESOURCE_METADATA, f"the advertised resource_metadata answers HTTP {reply.status}", reply)
            continue
        document = reply.json()
        if not isinstance(document, dict) or not isinstance(document.get("resource"), str):
            return failed(RESOURCE_METADATA, f"{path}: not a JSON object with a string `resource`", reply)
        servers = document.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not all(isinstance(s, str) for s in servers):
            return failed(RESOURCE_METADATA, f"{path}: no `authorization_servers` list", reply)
        expected = _expected_well_known_path(document["resource"])
        if path != expected:
            return failed(
                RESOURCE_METADATA,
                f"{path} describes {document['resource']!r}, whose metadata path is {expected}",
                reply,
            )
        how = "advertised in the 401 challenge" if advertised else "found at the well-known path (not advertised)"
        return passed(RESOURCE_METADATA, f"{path} {how}: resource and authorization_servers")
    return failed(
        RESOURCE_METADATA,
        "no resource_metadata in the 401 challenge and no metadata at the well-known paths",
        challenge,
    )
