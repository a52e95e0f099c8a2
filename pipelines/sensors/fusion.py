"""Fusion: a sensor alarm and a video finding on a linked camera within Δt become one `incident`.

A finding matches an alarm episode of sensor S when
- its type is one of `fusion.event_types` (fire, smoke, crowd, fall, zone_intrusion, loitering, ...),
- its camera is one of S's `camera_ids`, and, when S names zones and the finding names one
  (`attributes.zone_id`), that zone is one of S's `zone_ids`,
- its time lies within [episode start - Δt, episode end + Δt] (an open episode has no end yet).
Each episode fuses once (with the first finding that matches, whichever arrived first); an incident
references both event ids and is one severity step above the higher of the two, capped at critical.

Time is event time: findings and ended episodes are forgotten once the newest event time seen is
more than Δt + `late_s` past them, so a replayed recording fuses like a live one.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from events.schema import Event
from events.sensors import SensorSpec
from pipelines.sensors.config import FusionConfig
from pipelines.sensors.kinds import INCIDENT, SENSOR_ALARM, build_incident_event

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Episode:
    alarm: Event
    spec: SensorSpec
    end_ts_ms: int | None = None
    fused: bool = False


def _zone_of(event: Event) -> str | None:
    zone = getattr(event.attributes, "zone_id", None)
    return zone if isinstance(zone, str) and zone else None


class Fusion:
    def __init__(self, config: FusionConfig, worker_id: str) -> None:
        self.config = config
        self.worker_id = worker_id
        self.incidents = 0
        self._window_ms = int(config.window_s * 1000)
        self._keep_ms = self._window_ms + int(config.late_s * 1000)
        self._types = frozenset(config.event_types) - {SENSOR_ALARM, INCIDENT}
        self._findings: deque[Event] = deque(maxlen=config.max_findings)
        self._episodes: dict[tuple[str, str], _Episode] = {}  # (sensor id, rule id) -> episode
        self._watermark_ms = 0

    def wants(self, event: Event) -> bool:
        """Whether `event` is a video finding this fusion matches against alarms."""
        return self.config.enabled and event.type in self._types

    def on_alarm(self, alarm: Event, spec: SensorSpec) -> list[Event]:
        """A `sensor_alarm` the hub produced: a start opens an episode (fused with a buffered finding
        if one matches), an end closes it."""
        if not self.config.enabled:
            return []
        self._advance(alarm.ts_ms)
        phase, rule = getattr(alarm.attributes, "phase", None), str(getattr(alarm.attributes, "rule", ""))
        key = (spec.id, rule)
        if phase == "end":
            episode = self._episodes.get(key)
            if episode is not None:
                episode.end_ts_ms = alarm.ts_ms
            return []
        episode = _Episode(alarm, spec)
        self._episodes[key] = episode
        candidates = [f for f in self._findings if self._zone_match(episode, f) is not False]
        if not candidates:
            return []
        best = min(candidates, key=lambda f: abs(f.ts_ms - alarm.ts_ms))
        return [self._fuse(episode, best)]

    def on_finding(self, finding: Event) -> list[Event]:
        """Any event from the pipeline: a video finding of a fused type may complete incidents."""
        if not self.wants(finding):
            return []
        self._advance(finding.ts_ms)
        self._findings.append(finding)
        return [
            self._fuse(ep, finding)
            for ep in list(self._episodes.values())
            if not ep.fused and self._zone_match(ep, finding) is not False
        ]

    def _zone_match(self, episode: _Episode, finding: Event) -> str | bool | None:
        """False when `finding` does not match `episode`; else the zone the match names (or None)."""
        spec, start_ms = episode.spec, episode.alarm.ts_ms
        if episode.fused or finding.camera_id not in spec.camera_ids:
            return False
        if finding.ts_ms < start_ms - self._window_ms:
            return False
        if episode.end_ts_ms is not None and finding.ts_ms > episode.end_ts_ms + self._window_ms:
            return False
        zone = _zone_of(finding)
        if zone is not None and spec.zone_ids and zone not in spec.zone_ids:
            return False
        return zone

    def _fuse(self, episode: _Episode, finding: Event) -> Event:
        zone = self._zone_match(episode, finding)
        episode.fused = True
        self.incidents += 1
        incident = build_incident_event(
            episode.alarm, finding, zone if isinstance(zone, str) else None, self.worker_id
        )
        logger.info(
            "incident: sensor %s alarm %s + %s %s on %s (Δ %.1f s)",
            episode.spec.id,
            episode.alarm.event_id,
            finding.type,
            finding.event_id,
            finding.camera_id,
            (finding.ts_ms - episode.alarm.ts_ms) / 1000,
        )
        return incident

    def _advance(self, ts_ms: int) -> None:
        """Moves the event-time watermark and forgets what can no longer match."""
        if ts_ms <= self._watermark_ms:
            return
        self._watermark_ms = ts_ms
        horizon_ms = ts_ms - self._keep_ms
        while self._findings and self._findings[0].ts_ms < horizon_ms:
            self._findings.popleft()
        for key, ep in list(self._episodes.items()):
            if ep.end_ts_ms is not None and ep.end_ts_ms < horizon_ms:
                del self._episodes[key]
