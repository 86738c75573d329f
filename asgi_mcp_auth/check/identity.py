"""Identity drift (seed 000) and sessions bound to their user."""

from __future__ import annotations

from collections.abc import Mapping

from .model import CheckResult
from .probe import Prober
from .results import failed, identities_in, passed, skipped, tool_payload
from .wire import Reply

__all__ = ["identity_drift", "session_binding"]

IDENTITY_DRIFT = "identity-drift"
SESSION_BINDING = "session-binding"


async def _route_identity(prober: Prober, route: str, headers: Mapping[str, str]) -> tuple[Reply, dict[str, str]]:
    reply = await prober.send("GET", route, headers={"accept": "application/json", **headers})
    return reply, identities_in(reply.json(), prober.target.identity_field) if reply.ok else {}


async def _tool_identity(
    prober: Prober, tool: str, headers: Mapping[str, str], call_headers: Mapping[str, str] | None = None
) -> tuple[Reply, dict[str, str]]:
    opened, reply = await prober.call_tool_in_session(tool, headers=headers, call_headers=call_headers)
    if reply is None:
        return opened, {}
    return reply, identities_in(tool_payload(reply), prober.target.identity_field)


async def identity_drift(prober: Prober) -> CheckResult:
    """A request with A's header and B's cookie is A wherever the gateway reports identity.

    Baselines come from A's header alone. Then header A plus cookie B is sent without browser
    signals, from an allowlisted same-origin page, and (for the tool) with the cookie added
    only on the call after a clean `initialize`. A refusal is fine; any report other than A is not.
    """
    target = prober.target
    if len(target.roles) < 2:
        return skipped(IDENTITY_DRIFT, "needs tokens for two roles (--token-for A=... --token-for B=...)")
    a, b = target.roles[0], target.roles[1]
    reporters = 0
    checked = 0
    page = prober.same_origin_page()
    mixed_variants: list[tuple[str, dict[str, str], dict[str, str] | None]] = [
        ("header A + cookie B", {**prober.bearer(a), **prober.cookie(b)}, None),
        ("header A + cookie B from a same-origin page", {**prober.bearer(a), **prober.cookie(b), **page}, None),
    ]
    if (route := target.whoami_route) is not None:
        reply, baseline = await _route_identity(prober, route, prober.bearer(a))
        _other_reply, other = await _route_identity(prober, route, prober.bearer(b))
        if baseline and other and set(baseline.values()) == set(other.values()):
            return skipped(IDENTITY_DRIFT, f"roles {a} and {b} report the same identity; give two users")
        if baseline:
            reporters += 1
            expected = _single(baseline)
            if expected is None:
                return failed(
                    IDENTITY_DRIFT, f"{target.whoami_route} reports two identities for {a}: {baseline}", reply
                )
            for label, headers, _ in mixed_variants:
                mixed_reply, seen = await _route_identity(prober, route, headers)
                checked += 1
                if any(value != expected for value in seen.values()):
                    return failed(
                        IDENTITY_DRIFT,
                        f"{label}: {target.whoami_route} reports {seen}, expected {expected}",
                        mixed_reply,
                    )
    if (tool := target.whoami_tool) is not None:
        reply, baseline = await _tool_identity(prober, tool, prober.bearer(a))
        if baseline:
            reporters += 1
            expected = _single(baseline)
            if expected is None:
                return failed(
                    IDENTITY_DRIFT, f"tool {target.whoami_tool} reports two identities for {a}: {baseline}", reply
                )
            variants = [*mixed_variants]
            variants.append(
                (
                    "cookie B added after initialize with header A",
                    prober.bearer(a),
                    {**prober.bearer(a), **prober.cookie(b), **page},
                )
            )
            for label, headers, call_headers in variants:
                mixed_reply, seen = await _tool_identity(prober, tool, headers, call_headers)
                checked += 1
                if any(value != expected for value in seen.values()):
                    return failed(
                        IDENTITY_DRIFT,
                        f"{label}: tool {target.whoami_tool} reports {seen}, expected {expected}",
                        mixed_reply,
                    )
    if reporters == 0:
        return skipped(IDENTITY_DRIFT, "no whoami route or tool reported an identity for the first role's token")
    return passed(IDENTITY_DRIFT, f"header A + cookie B is A in {checked} probes over {reporters} reporter(s)")


def _single(identities: dict[str, str]) -> str | None:
    values = set(identities.values())
    return values.pop() if len(values) == 1 else None


async def session_binding(prober: Prober) -> CheckResult:
    """A session opened with A's token answers nobody else: not B, not an anonymous caller."""
    target = prober.target
    if len(target.roles) < 2:
        return skipped(SESSION_BINDING, "needs tokens for two roles")
    a, b = target.roles[0], target.roles[1]
    opened = await prober.initialize(headers=prober.bearer(a))
    if not opened.ok:
        return skipped(SESSION_BINDING, f"initialize with {a}'s token was refused (HTTP {opened.status})")
    session = opened.session_id
    if not session:
        return skipped(SESSION_BINDING, "the gateway issues no session ids (stateless)")
    own = await prober.call("tools/list", headers=prober.bearer(a), session_id=session)
    if own.rpc_result is None:
        return skipped(SESSION_BINDING, f"the session does not answer its own user (HTTP {own.status})")
    for label, headers in ((f"{b}'s token", prober.bearer(b)), ("no credential", {})):
        reply = await prober.call("tools/list", headers=headers, session_id=session)
        if reply.rpc_result is not None:
            return failed(SESSION_BINDING, f"{a}'s session answered a request with {label}", reply)
        if target.probe_tool is not None:
            reply = await prober.call(
                "tools/call",
                {"name": target.probe_tool, "arguments": dict(target.tool_arguments)},
                headers=headers,
                session_id=session,
            )
            if reply.rpc_result is not None:
                return failed(SESSION_BINDING, f"{a}'s session ran a tool for a request with {label}", reply)
    return passed(SESSION_BINDING, f"{a}'s session refused {b}'s token and anonymous requests")
