"""Findings become valid events; snapshots are written with the SHA-256 the event carries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import ModelInfo
from events.schema import Event, Severity
from pipelines.analytics.base import Finding
from pipelines.analytics.line_crossing import LineCrossingAttributes, LineCrossingConfig
from pipelines.config import SnapshotConfig
from pipelines.emit import EmitContext, build_event, event_id_for
from pipelines.evidence import EvidenceError, SnapshotWriter


def ctx(severity: Severity, alert_severity: Severity) -> EmitContext:
    rule = LineCrossingConfig(
        id="r", type="line_crossing", line="l", severity=severity, alert_severity=alert_severity
    )
    return EmitContext(
        camera_id="cam", site_id="site", worker_id="w1", model=ModelInfo("m", "1"), rules={"r": rule}
    )


FINDING = Finding(
    rule_id="r",
    type="line_crossing",
    track_id=4,
    label="person",
    confidence=0.87,
    xyxy=(-3.0, 50.0, 100.0, 210.0),
    attributes=LineCrossingAttributes(line_id="l", direction="in"),
)


@pytest.mark.parametrize(
    ("severity", "alert_severity", "alert"),
    [
        (Severity.HIGH, Severity.MEDIUM, True),
        (Severity.MEDIUM, Severity.MEDIUM, True),
        (Severity.LOW, Severity.MEDIUM, False),
        (Severity.CRITICAL, Severity.CRITICAL, True),
    ],
)
def test_alert_flag_follows_rule_severity(severity: Severity, alert_severity: Severity, alert: bool) -> None:
    event = build_event(ctx(severity, alert_severity), FINDING, 1_000, (200, 200), None)
    assert event.alert is alert
    assert event.severity == severity


def test_event_is_normalised_and_round_trips() -> None:
    c = ctx(Severity.MEDIUM, Severity.MEDIUM)
    event = build_event(c, FINDING, 1_700_000_000_000, (200, 200), None)
    assert event.bbox_xyxy == (0.0, 0.25, 0.5, 1.0)  # clamped to the frame
    assert event.event_id == event_id_for(c, FINDING, 1_700_000_000_000)
    assert Event.from_json_bytes(event.to_json_bytes()) == event
    other = build_event(c, FINDING, 1_700_000_000_100, (200, 200), None)
    assert other.event_id != event.event_id


def test_snapshot_written_with_matching_hash(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path, SnapshotConfig(max_width_px=100))
    frame = np.full((100, 200, 3), 127, dtype=np.uint8)
    c = ctx(Severity.MEDIUM, Severity.MEDIUM)
    eid = event_id_for(c, FINDING, 1_700_000_000_000)
    snap = writer.write(
        frame, camera_id="cam", event_id=eid, ts_ms=1_700_000_000_000, xyxy=(10, 10, 50, 90), caption="x"
    )
    path = tmp_path / snap.uri
    assert snap.uri == f"snapshots/cam/2023-11-14/{eid}.jpg"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == snap.sha256
    image = cv2.imread(str(path))
    assert image is not None
    assert image.shape == (50, 100, 3)  # scaled down to max_width_px
    assert not list(path.parent.glob("*.tmp"))


def test_unwritable_snapshot_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "snapshots"
    blocker.write_text("not a folder")
    writer = SnapshotWriter(tmp_path, SnapshotConfig())
    frame = np.zeros((10, 10, 3), dtype=np.uint8)
    c = ctx(Severity.MEDIUM, Severity.MEDIUM)
    with pytest.raises(EvidenceError, match="cannot write snapshot"):
        writer.write(
            frame,
            camera_id="cam",
            event_id=event_id_for(c, FINDING, 0),
            ts_ms=0,
            xyxy=(1, 1, 5, 5),
            caption="",
        )
