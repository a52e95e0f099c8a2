"""Dependencies point one way (import-linter contracts in pyproject.toml); importing has no side effects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 4 kept, 0 broken" in proc.stdout


def test_importing_packages_starts_nothing() -> None:
    code = (
        "import sys, threading\n"
        "import anfang.cli, pipelines.worker, events.ports, detectors.registry, api\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert 'gi' not in sys.modules and 'ultralytics' not in sys.modules and 'torch' not in sys.modules\n"
        "print('clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"
