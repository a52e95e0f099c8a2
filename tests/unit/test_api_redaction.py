"""Credentials never leave the API: redaction of text and specs, and restoring secrets sent back redacted."""

from __future__ import annotations

from typing import Any

import pytest

from api.redaction import redact_text, restore_redacted, safe_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtsp://admin:pw@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsp://admin:p@ss@cam/x", "rtsp://admin:***@cam/x"),  # '@' inside the password
        ("error opening rtsps://:tok@h/s: 401", "error opening rtsps://:***@h/s: 401"),
        ("rtsp://admin@cam/x", "rtsp://admin@cam/x"),  # no password, nothing to hide
        ("http://cam:8080/snap@2x.jpg", "http://cam:8080/snap@2x.jpg"),
        ("http://cam/mjpg?user=admin&pwd=pw&fps=5", "http://cam/mjpg?user=admin&pwd=***&fps=5"),
        ("login failed: password=hunter2; api_key=abc", "login failed: password=***; api_key=***"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


SPEC: dict[str, Any] = {
    "id": "gate",
    "uri": "rtsp://admin:pw1@10.0.0.5/live",
    "onvif": {"user": "admin", "password": "pw2", "port": 80},
    "fallbacks": ["http://u:pw3@nvr/x", "file:///srv/clip.mp4"],
    "rtsp_password": "pw4",
    "zones": [{"id": "road", "polygon": [[0, 0], [1, 0], [1, 1]]}],
}
SHOWN: dict[str, Any] = {
    "id": "gate",
    "uri": "rtsp://admin:***@10.0.0.5/live",
    "onvif": {"user": "admin", "password": "***", "port": 80},
    "fallbacks": ["http://u:***@nvr/x", "file:///srv/clip.mp4"],
    "rtsp_password": "***",
    "zones": [{"id": "road", "polygon": [[0, 0], [1, 0], [1, 1]]}],
}


def test_safe_spec_hides_every_secret_and_keeps_the_rest() -> None:
    assert safe_spec(SPEC) == SHOWN
    assert SPEC["onvif"]["password"] == "pw2"  # a copy: the stored spec keeps its secrets


NEW_HOST = "rtsp://admin:***@10.0.0.6/live"
NEW_PASSWORD = "rtsp://admin:new@10.0.0.5/live"

RESTORE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("unchanged: every secret restored", SHOWN, SPEC),
    ("zones edited", SHOWN | {"zones": []}, SPEC | {"zones": []}),
    # a secret never follows a changed destination
    ("uri host changed", SHOWN | {"uri": NEW_HOST}, SPEC | {"uri": NEW_HOST, "rtsp_password": "***"}),
    (
        "uri password changed",
        SHOWN | {"uri": NEW_PASSWORD},
        SPEC | {"uri": NEW_PASSWORD, "rtsp_password": "***"},
    ),
    (
        "onvif user changed",
        SHOWN | {"onvif": {"user": "root", "password": "***", "port": 80}},
        SPEC | {"onvif": {"user": "root", "password": "***", "port": 80}},
    ),
    (
        "onvif host added",
        SHOWN | {"onvif": SHOWN["onvif"] | {"host": "203.0.113.9"}},
        SPEC | {"onvif": SHOWN["onvif"] | {"host": "203.0.113.9"}},
    ),
    (
        "one fallback edited",
        SHOWN | {"fallbacks": ["http://u:***@nvr/x", "file:///srv/other.mp4"]},
        SPEC | {"fallbacks": ["http://u:pw3@nvr/x", "file:///srv/other.mp4"]},
    ),
]


@pytest.mark.parametrize(("case", "sent", "expected"), RESTORE_CASES, ids=[c[0] for c in RESTORE_CASES])
def test_restore_redacted(case: str, sent: dict[str, Any], expected: dict[str, Any]) -> None:
    assert restore_redacted(sent, SPEC, safe_spec(SPEC)) == expected
