"""Running a child script in a fresh interpreter with some packages made unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["REPO", "run_with_blocked_imports"]

REPO = Path(__file__).resolve().parent.parent


def run_with_blocked_imports(tmp_path: Path, blocker: str, child: str) -> dict[str, Any]:
    """Run `child` with `blocker` installed as `sitecustomize` (an import hook that refuses some
    packages); returns the JSON object the child prints last. Fails with the child's stderr."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(blocker))
    python_path = [str(tmp_path), str(REPO / "tests"), str(REPO)]
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", textwrap.dedent(child)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": ":".join(python_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
