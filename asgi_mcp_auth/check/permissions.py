"""Method permissions, the same under a path prefix and a root_path header, and the 2026-07-28
agreement between the `Mcp-Method` / `Mcp-Name` headers and the body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .model import CheckResult
from .probe import Prober
from .results import failed, passed, skipped
from .wire import MODERN_VERSION, Reply, modern_request

__all__ = ["header_body_agreement", "method_permissions", "path_prefix", "root_path_header"]

METHOD_PERMISSIONS = "method-permissions"
PATH_PREFIX = "path-prefix"
ROOT_PATH_HEADER = "root-path-header"
HEADER_BODY_AGREEMENT = "header-body-agreement"
#: A path segment no gateway routes: under it, a root_path header makes the rest the route path.
ROOT_PATH_SEGMENT = "/rp"


@dataclass(frozen=True)
class _Probe:
    failure: str | None
    reply: Reply | None
    privileged_succeeded: bool


def _modern_headers(method: str, name: str | None = None) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {"mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers


async def _modern_tool_call(
    prober: Prober,
    tool: str,
    role: str,
    path: str | None,
    extra: Mapping[str, str],
    *,
    header_method: str = "tools/call",
) -> Reply:
    body = modern_request(
        "tools/call", {"name": tool, "arguments": dict(prober.target.tool_arguments)}, request_id=prober.next_id()
    )
    headers = {
        **prober.bearer(role),
        **extra,
        **_modern_headers(header_method, tool if header_method == "tools/call" else None),
    }
    return await prober.mcp(body, headers=headers, path=path, version=MODERN_VERSION)


async def _permission_probe(prober: Prober, tool: str, path: str | None, extra: Mapping[str, str]) -> _Probe:
    """The unprivileged role calls the tool (a stateful session, then a 2026-07-28 request);
    the other roles call it too, as the control that the tool works at all."""
    target = prober.target
    role = target.unprivileged_role
    headers = {**prober.bearer(role), **extra}
    opened, reply = await prober.call_tool_in_session(tool, target.tool_arguments, headers=headers, path=path)
    if reply is not None and reply.tool_succeeded:
        return _Probe(f"{role} (no tools.execute) called tool {tool} in a session", reply, False)
    modern = await _modern_tool_call(prober, tool, role, path, extra)
    if modern.tool_succeeded:
        return _Probe(f"{role} (no tools.execute) called tool {tool} with a 2026-07-28 request", modern, False)
    for other in target.roles:
        if other == role:
            continue
        _opened, control = await prober.call_tool_in_session(
            tool, target.tool_arguments, headers={**prober.bearer(other), **extra}, path=path
        )
        if (control is not None and control.tool_succeeded) or (
            await _modern_tool_call(prober, tool, other, path, extra)
        ).tool_succeeded:
            return _Probe(None, reply or opened, True)
    return _Probe(None, reply or opened, False)


def _preconditions(prober: Prober, name: str) -> CheckResult | str:
    """The tool to call, or the SKIP row saying why the check cannot run."""
    target = prober.target
    if target.probe_tool is None:
        return skipped(name, "no tool to call (--tool or --whoami-tool)")
    if target.unprivileged_role not in target.tokens:
        role = target.unprivileged_role
        return skipped(name, f"no token for the role without tools.execute ({role!r}, --unprivileged-role)")
    return target.probe_tool


async def method_permissions(prober: Prober) -> CheckResult:
    """A token whose role lacks `tools.execute` cannot call a tool; another role can (control)."""
    tool = _preconditions(prober, METHOD_PERMISSIONS)
    if isinstance(tool, CheckResult):
        return tool
    probe = await _permission_probe(prober, tool, None, {})
    if probe.failure is not None:
        return failed(METHOD_PERMISSIONS, probe.failure, probe.reply)
    if not probe.privileged_succeeded:
        return skipped(
            METHOD_PERMISSIONS, f"no other role could call {prober.target.probe_tool}: a refusal proves nothing"
        )
    return passed(
        METHOD_PERMISSIONS,
        f"{prober.target.unprivileged_role} refused {prober.target.probe_tool}; another role may call it",
    )


async def path_prefix(prober: Prober) -> CheckResult:
    """Under `prefix` (the gateway also served below a path, e.g. a Mount), anonymous
    `initialize`, the unprivileged tool call and the cross-site cookie are refused alike."""
    prefix = prober.target.prefix
    if prefix is None:
        return skipped(PATH_PREFIX, "no --prefix given")
    tool = _preconditions(prober, PATH_PREFIX)
    if isinstance(tool, CheckResult):
        return tool
    path = prefix + prober.target.mcp_path
    anonymous = await prober.initialize(headers={}, path=path)
    if anonymous.ok:
        return failed(PATH_PREFIX, f"initialize without a credential succeeded under {prefix}", anonymous)
    probe = await _permission_probe(prober, tool, path, {})
    if probe.failure is not None:
        return failed(PATH_PREFIX, f"under {prefix}: {probe.failure}", probe.reply)
    role = prober.target.roles[0]
    cross = await prober.initialize(headers={**prober.cookie(role), **prober.cross_site_page()}, path=path)
    if cross.ok:
        return failed(PATH_PREFIX, f"under {prefix}: a cross-site POST with the cookie was accepted", cross)
    if not probe.privileged_succeeded:
        return skipped(
            PATH_PREFIX, f"no role could call {prober.target.probe_tool} under {prefix}: nothing served there?"
        )
    return passed(PATH_PREFIX, f"under {prefix}: anonymous, unprivileged and cross-site requests refused")


async def root_path_header(prober: Prober) -> CheckResult:
    """With a root_path-style header (`Daphne-Root-Path`, `X-Forwarded-Prefix`), the route path
    a server computes may differ from the raw path: anonymous and unprivileged requests must
    stay refused whatever the header says."""
    tool = _preconditions(prober, ROOT_PATH_HEADER)
    if isinstance(tool, CheckResult):
        return tool
    mcp = prober.target.mcp_path
    variants = [(ROOT_PATH_SEGMENT + mcp, ROOT_PATH_SEGMENT), (mcp, mcp.rstrip("/") or "/")]
    sent = 0
    for header in prober.target.root_path_headers:
        for path, value in variants:
            extra = {header.lower(): value}
            sent += 1
            anonymous = await prober.initialize(headers=extra, path=path)
            if anonymous.ok:
                return failed(
                    ROOT_PATH_HEADER,
                    f"{header}: {value} on {path}: initialize without a credential succeeded",
                    anonymous,
                )
            probe = await _permission_probe(prober, tool, path, extra)
            if probe.failure is not None:
                return failed(ROOT_PATH_HEADER, f"{header}: {value} on {path}: {probe.failure}", probe.reply)
    return passed(ROOT_PATH_HEADER, f"{sent} header/path combinations: anonymous and unprivileged requests refused")


async def header_body_agreement(prober: Prober) -> CheckResult:
    """2026-07-28 (SEP-2243): `Mcp-Method` / `Mcp-Name` must mirror the body, else HTTP 400. A
    request that says `tools/list` in its header and `tools/call` in its body must never run
    the tool for a role that may only list."""
    target = prober.target
    tool = _preconditions(prober, HEADER_BODY_AGREEMENT)
    if isinstance(tool, CheckResult):
        return tool
    privileged = next((role for role in target.roles if role != target.unprivileged_role), None)
    if privileged is None:
        return skipped(HEADER_BODY_AGREEMENT, "needs a token for a role other than the unprivileged one")
    control = await prober.mcp(
        modern_request("tools/list", request_id=prober.next_id()),
        headers={**prober.bearer(privileged), **_modern_headers("tools/list")},
        version=MODERN_VERSION,
    )
    if control.rpc_result is None:
        return skipped(
            HEADER_BODY_AGREEMENT, f"the gateway does not answer 2026-07-28 requests (HTTP {control.status})"
        )
    disguised = await _modern_tool_call(prober, tool, target.unprivileged_role, None, {}, header_method="tools/list")
    if disguised.tool_succeeded:
        return failed(
            HEADER_BODY_AGREEMENT, f"{target.unprivileged_role} ran {tool} by saying Mcp-Method: tools/list", disguised
        )
    mismatches = [
        ("Mcp-Method: tools/list with a tools/call body", "tools/list", None),
        ("Mcp-Name naming another tool", "tools/call", f"{tool}-other"),
    ]
    for label, method, name in mismatches:
        body = modern_request(
            "tools/call", {"name": tool, "arguments": dict(target.tool_arguments)}, request_id=prober.next_id()
        )
        reply = await prober.mcp(
            body, headers={**prober.bearer(privileged), **_modern_headers(method, name)}, version=MODERN_VERSION
        )
        if reply.status != 400:
            return failed(HEADER_BODY_AGREEMENT, f"{label}: HTTP {reply.status}, expected 400", reply)
    return passed(HEADER_BODY_AGREEMENT, "header/body disagreements are 400 and never run the tool")
