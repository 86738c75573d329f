"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) keep the
direction of imports, these tests what its graph cannot see and that the contracts can fail."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "asgi_mcp_auth"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CORE_LAYERS = ("core", "policy", "credentials", "settings.py")
REQUEST_MACHINERY = ("starlette.requests", "starlette.responses", "starlette.websockets", "starlette.routing")
MAX_MODULE_LINES = 300


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (function-local imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def core_modules() -> list[Path]:
    return sorted(
        path
        for name in CORE_LAYERS
        for path in ([PACKAGE / name] if name.endswith(".py") else (PACKAGE / name).rglob("*.py"))
    )


@pytest.mark.parametrize("path", core_modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_core_never_imports_starlette_request_or_response_machinery(path: Path) -> None:
    forbidden = {name for name in imported_modules(path) if name.startswith(REQUEST_MACHINERY)}
    assert not forbidden, f"{path.relative_to(REPO)} imports {sorted(forbidden)}"


def test_no_package_module_is_longer_than_the_limit() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules: {long}"


def test_import_contracts_hold() -> None:
    result = subprocess.run(  # noqa: S603 - the venv's own lint-imports
        [str(LINT_IMPORTS), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("core/principal.py", "from ..pipeline import context", "Layers import only downward"),
        ("policy/rbac.py", "from ..settings import AuthSettings", "Layers import only downward"),
        ("integrations/fastapi.py", "from . import metadata", "Integrations import nothing from each other"),
        ("credentials/cache.py", "from . import jwt", "Inside the credentials layer"),
        ("policy/browser.py", "import fastapi", "The core knows no web framework"),
    ],
)
def test_an_upward_or_sideways_import_breaks_a_contract(
    tmp_path: Path, module: str, statement: str, broken: str
) -> None:
    shutil.copytree(PACKAGE, tmp_path / "asgi_mcp_auth", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "asgi_mcp_auth" / module
    # Function-local, as the cycles this contract exists for were: they count too.
    target.write_text(target.read_text() + f"\n\ndef _upward() -> None:\n    {statement}  # noqa\n")
    result = subprocess.run(  # noqa: S603 - the venv's own lint-imports
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert broken in result.stdout.replace("\n", " ")
    assert "BROKEN" in result.stdout
