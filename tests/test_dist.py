"""The built wheel installs into a fresh virtual environment and its plugin registers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*command: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreters and tools
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_the_built_wheel_installs_in_a_fresh_venv_and_its_pytest_plugin_registers(tmp_path: Path) -> None:
    run(sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", REPO)
    (wheel,) = (tmp_path / "dist").glob("asgi_mcp_auth-*.whl")
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    # The base dependencies plus pytest: the plugin must load without the SDK or uvicorn.
    run(python, "-m", "pip", "install", "--quiet", wheel, "pytest")

    where = run(python, "-c", "import asgi_mcp_auth, asgi_mcp_auth.check; print(asgi_mcp_auth.__file__)", cwd=tmp_path)
    fixtures = run(python, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", cwd=tmp_path)

    assert where.startswith(str(tmp_path / "venv"))
    assert "mcp_auth_tokens" in fixtures
    assert "mcp_auth_settings" in fixtures
