"""The command line: parse arguments into a `Target`, run the checks, print the table."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from .runner import check_names, run_checks
from .target import CookieLogin, Target

__all__ = ["main", "parse_target"]

EPILOG = """\
A value of the form @PATH is read from that file (keeps tokens out of the process list).
Exit status: 0 when no check failed, 1 when one did, 2 for a usage error.
Checks: """ + ", ".join(check_names())


def _secret(value: str) -> str:
    if value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8").strip()
    return value


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{option} expects ROLE=VALUE, got {item.split('=')[0]!r}...")
        pairs[key] = _secret(value)
    return pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asgi_mcp_auth.check",
        description="Probe a running MCP gateway as an attacker would: one request, one identity.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the gateway's origin, or its MCP endpoint URL (http://host:port/mcp/)")
    parser.add_argument(
        "--token-for",
        action="append",
        default=[],
        metavar="ROLE=TOKEN",
        help="a bearer token for a role; give at least two users (the first two are A and B)",
    )
    parser.add_argument(
        "--cookie-for",
        action="append",
        default=[],
        metavar="ROLE=VALUE",
        help="the session cookie value of a role (default: its token)",
    )
    parser.add_argument(
        "--cookie-login", metavar="PATH", help="form login path that sets the cookie, e.g. /admin/login"
    )
    parser.add_argument(
        "--login",
        action="append",
        default=[],
        metavar="ROLE=USER:PASSWORD",
        help="credentials for --cookie-login, per role",
    )
    parser.add_argument("--cookie-name", default="jwt_token")
    parser.add_argument("--mcp-path", help="the MCP endpoint path (default: the URL's path, else /mcp/)")
    parser.add_argument("--whoami-route", default="/whoami", help="GET route reporting the caller ('' for none)")
    parser.add_argument("--whoami-tool", default="whoami", help="MCP tool reporting the caller ('' for none)")
    parser.add_argument("--identity-field", default="sub", help="JSON key of the identity in whoami answers")
    parser.add_argument("--tool", help="tool the permission checks call (default: the whoami tool)")
    parser.add_argument("--tool-args", default="{}", help="JSON arguments for --tool")
    parser.add_argument("--unprivileged-role", default="viewer", help="a role whose token lacks tools.execute")
    parser.add_argument("--browser-page", default="/admin", help="a page of the gateway allowed to use the cookie")
    parser.add_argument("--prefix", help="a path prefix the gateway is also served under, e.g. /gw")
    parser.add_argument("--only", action="append", choices=check_names(), help="run only this check (repeatable)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request")
    return parser


def parse_target(argv: Sequence[str]) -> tuple[Target, list[str] | None]:
    args = build_parser().parse_args(argv)
    parts = urlsplit(args.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    mcp_path = args.mcp_path or (parts.path if parts.path not in ("", "/") else "/mcp/")
    login = None
    if args.cookie_login:
        credentials: dict[str, tuple[str, str]] = {}
        for role, pair in _pairs(args.login, "--login").items():
            user, sep, password = pair.partition(":")
            if not sep:
                raise SystemExit("--login expects ROLE=USER:PASSWORD")
            credentials[role] = (user, password)
        login = CookieLogin(path=args.cookie_login, credentials=credentials)
    try:
        arguments = json.loads(args.tool_args)
    except ValueError as exc:
        raise SystemExit(f"--tool-args is not JSON: {exc}") from None
    try:
        target = Target(
            url=origin,
            tokens=_pairs(args.token_for, "--token-for"),
            mcp_path=mcp_path,
            whoami_route=args.whoami_route or None,
            whoami_tool=args.whoami_tool or None,
            identity_field=args.identity_field,
            tool=args.tool,
            tool_arguments=arguments,
            unprivileged_role=args.unprivileged_role,
            cookie_name=args.cookie_name,
            cookies=_pairs(args.cookie_for, "--cookie-for"),
            cookie_login=login,
            browser_page=args.browser_page,
            prefix=args.prefix,
            timeout=args.timeout,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return target, args.only


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checker; returns the exit status (1 when any check failed)."""
    try:
        target, only = parse_target(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        return 2 if exc.code else 0
    report = anyio.run(lambda: run_checks(target, only=only))
    print(report.render())
    return 0 if report.ok else 1
