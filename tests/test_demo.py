"""The README's offline demo runs as documented."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_offline_demo_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "offline_demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("found ") and "Python vacancies in Moscow" in lines[0]
    assert any(line.startswith("opened ") for line in lines)
    assert "(complete: True)" in result.stdout
    assert "raises NotFoundError" in result.stdout
    assert "failures injected, all retried" in lines[-1]
    assert "Traceback" not in result.stderr
