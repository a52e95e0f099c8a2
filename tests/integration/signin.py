"""Sign-in for integration tests: an API key made with the product's own CLI before the service starts
(embedded: the CLI opens the data folder itself; distributed: it writes to the ClickHouse server)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def create_api_key(env: Mapping[str, str], *, role: str = "admin", name: str = "integration-tests") -> str:
    """A new API key (`ak_...`) of `role`, printed once by `anfang keys create` on stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "anfang.cli", "keys", "create", "--name", name, "--role", role],
        check=False,
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("ak_"), done.stdout
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def add_user(env: Mapping[str, str], username: str, role: str, password: str) -> None:
    """`anfang users add ... --password-stdin` (the password never on a command line)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "anfang.cli",
            "users",
            "add",
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
        ],
        cwd=REPO,
        env=dict(env),
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
