"""Schemathesis against the running API (`anfang api`, embedded, real chDB, real sign-in): every
operation of /openapi.json fuzzed with an admin's access token must answer without a server error,
with a documented status code and a body that conforms to the schema.

The endless Server-Sent Events stream is left out (its own tests read it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.integration.signin import add_user
from tests.rtsp_fixtures import REPO, free_port

pytestmark = pytest.mark.integration

PASSWORD = "fuzzing is fun, 123"
EXAMPLES_PER_OPERATION = int(os.environ.get("ANFANG_FUZZ_EXAMPLES", "25"))
SKIPPED = {"GET /v1/alerts/live"}  # the endless Server-Sent Events stream

SEED = """
import sys
from pathlib import Path
from events.store.chdb_store import ChdbStore
from tests.unit.events_samples import build_event
store = ChdbStore(Path(sys.argv[1]))
store.ensure_schema()
events = [build_event(ts_ms=1_795_000_000_000 + i * 1000, camera_id=f"cam-{i % 3}", alert=i % 2 == 0,
                      event_type="zone_intrusion" if i % 4 else "line_crossing") for i in range(60)]
print(store.insert(events))
store.close()
"""


@pytest.fixture(scope="module")
def running_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    env = {
        **os.environ,
        "ANFANG_DATA_DIR": str(tmp / "data"),
        "ANFANG_MODE": "embedded",
        "ANFANG_AUTH__LOGIN_MAX_FAILURES": "1000000",  # the fuzzer signs in wrongly on purpose
        "ANFANG_AUTH__ARGON2_TIME_COST": "1",
        "ANFANG_AUTH__ARGON2_MEMORY_KIB": "1024",
        "PYTHONUNBUFFERED": "1",
    }
    seeded = subprocess.run(
        [sys.executable, "-c", SEED, str(tmp / "data" / "chdb")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    add_user(env, "fuzz", "admin", PASSWORD)
    port = free_port()
    log = (tmp / "api.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "anfang.cli", "api", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp / "api.log").read_text()[-3000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not get ready"
        time.sleep(0.2)
    r = httpx.post(f"{base}/v1/auth/token", data={"username": "fuzz", "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    yield base, {"Authorization": f"Bearer {r.json()['access_token']}"}
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    text = (tmp / "api.log").read_text()
    assert "Traceback" not in text, text[-3000:]
    assert PASSWORD not in text


def test_the_api_conforms_to_its_schema(running_api: tuple[str, dict[str, str]]) -> None:
    """Every operation, fuzzed with Hypothesis: failures collected per operation, reported together."""
    base, headers = running_api
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    failures: dict[str, str] = {}
    tested = 0
    calls: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIPPED:
            continue
        tested += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            calls.append(case.operation.label)
            case.call_and_validate(headers=headers, checks=checks)

        try:
            fuzz()
        except Exception as exc:  # every operation is tried; all failures are reported at the end
            failures[label] = str(exc)[:1500]
    assert tested >= 30, f"only {tested} operations in the schema"
    assert len(calls) >= 5 * tested, f"only {len(calls)} requests over {tested} operations"
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def test_the_fuzzed_service_still_verifies_its_audit_trail(running_api: tuple[str, dict[str, str]]) -> None:
    """After the fuzzing, the service answers and its audit chain is intact (nothing corrupted it)."""
    base, headers = running_api
    r = httpx.get(f"{base}/v1/audit/verify", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()["problems"][:5]
    assert Path(REPO).exists()
