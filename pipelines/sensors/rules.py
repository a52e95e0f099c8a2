"""Sensor rules over readings in time order: threshold, rate of rise, seismic intensity; each with
`sustained_for_s`, each alarming once per episode (a `start` event) and ending it (an `end` event).

- threshold: holds while `value >= limit` (or `<=`); clears past the limit by `hysteresis`.
- rate_of_rise: `(value - oldest value within window_s) / span * 60` units per minute, once the
  readings in the window span `min_span_s`; holds while it is at least `per_min`.
- intensity (seismic): the reading's degree on the sensor's scale (`seismic.py`) reaches `min_intensity`.

`sustained_for_s`: the condition must hold on every reading from the first that met it until one at
least that many seconds later; any reading that breaks it restarts the wait. A reading older than the
last one evaluated for its sensor is stored but not evaluated (`late` counts them). Changing or removing
a rule ends its open episode (`reason: rule_changed`).
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from dataclasses import dataclass, field

from events.schema import Event
from events.sensors import (
    IntensityRule,
    RateOfRiseRule,
    SensorKind,
    SensorReading,
    SensorRecord,
    SensorRule,
    ThresholdRule,
)
from pipelines.sensors.kinds import AlarmContext, SensorAlarmAttributes, build_alarm_event
from pipelines.sensors.seismic import Intensity, intensity_of_reading

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Episode:
    start_event_id: uuid.UUID
    start_ts_ms: int
    peak_value: float
    held_s: float


@dataclass(slots=True)
class _RuleState:
    rule: SensorRule
    pending_since_ms: int | None = None
    episode: _Episode | None = None
    history_ms: deque[tuple[int, float]] = field(default_factory=deque)


@dataclass(frozen=True, slots=True)
class _Check:
    holds: bool | None  # None: no verdict yet (rate of rise before min_span_s)
    clears: bool
    rate_per_min: float | None = None


def _check(state: _RuleState, reading: SensorReading, degree: int | None) -> _Check:
    rule, value = state.rule, reading.value
    if isinstance(rule, ThresholdRule):
        if rule.op == ">=":
            return _Check(value >= rule.limit, value < rule.limit - rule.hysteresis)
        return _Check(value <= rule.limit, value > rule.limit + rule.hysteresis)
    if isinstance(rule, IntensityRule):
        reached = degree is not None and degree >= rule.min_intensity
        return _Check(reached, not reached)
    history = state.history_ms
    history.append((reading.ts_ms, value))
    while history and history[0][0] < reading.ts_ms - rule.window_s * 1000:
        history.popleft()
    span_s = (reading.ts_ms - history[0][0]) / 1000
    if span_s < rule.min_span_s:
        return _Check(None, False)
    rate = (value - history[0][1]) / span_s * 60
    return _Check(rate >= rule.per_min, rate < rule.per_min, round(rate, 4))


def _threshold_of(rule: SensorRule) -> float:
    if isinstance(rule, ThresholdRule):
        return rule.limit
    if isinstance(rule, RateOfRiseRule):
        return rule.per_min
    return float(rule.min_intensity)


def _more_extreme(rule: SensorRule, a: float, b: float) -> float:
    return min(a, b) if isinstance(rule, ThresholdRule) and rule.op == "<=" else max(a, b)


class SensorRules:
    """The state of every rule of every sensor; `evaluate` one reading at a time, in time order."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.late = 0
        self._states: dict[str, dict[str, _RuleState]] = {}
        self._last_ts_ms: dict[str, int] = {}

    def active(self, sensor_id: str) -> list[str]:
        """Ids of the sensor's rules with an open episode."""
        return [r for r, s in self._states.get(sensor_id, {}).items() if s.episode is not None]

    def evaluate(self, record: SensorRecord, reading: SensorReading) -> list[Event]:
        spec = record.spec
        last = self._last_ts_ms.get(spec.id)
        if last is not None and reading.ts_ms <= last:
            self.late += 1
            return []
        self._last_ts_ms[spec.id] = reading.ts_ms
        states = self._states.setdefault(spec.id, {})
        seismic = self._intensity(record, reading)
        events: list[Event] = []
        current = {r.id: r for r in spec.rules}
        for rule_id in list(states):
            if current.get(rule_id) != states[rule_id].rule:
                old = states.pop(rule_id)
                if old.episode is not None:
                    events.append(self._end(record, old, reading, seismic, "rule_changed"))
        for rule in spec.rules:
            state = states.setdefault(rule.id, _RuleState(rule))
            event = self._step(record, state, reading, seismic)
            if event is not None:
                events.append(event)
        return events

    @staticmethod
    def _intensity(record: SensorRecord, reading: SensorReading) -> Intensity | None:
        spec = record.spec
        if spec.kind != SensorKind.SEISMIC:
            return None
        return intensity_of_reading(reading.value, reading.unit, spec.intensity_scale)

    def _step(
        self, record: SensorRecord, state: _RuleState, reading: SensorReading, seismic: Intensity | None
    ) -> Event | None:
        check = _check(state, reading, seismic.degree if seismic else None)
        if state.episode is not None:
            if check.clears:
                event = self._end(record, state, reading, seismic, "cleared")
                state.episode, state.pending_since_ms = None, None
                return event
            ep = state.episode
            ep.peak_value = _more_extreme(state.rule, ep.peak_value, reading.value)
            return None
        if not check.holds:
            state.pending_since_ms = None
            return None
        if state.pending_since_ms is None:
            state.pending_since_ms = reading.ts_ms
        held_s = (reading.ts_ms - state.pending_since_ms) / 1000
        if held_s < state.rule.sustained_for_s:
            return None
        attributes = self._attributes(record, state.rule, reading, seismic, "start", held_s)
        attributes = attributes.model_copy(update={"rate_per_min": check.rate_per_min})
        event = build_alarm_event(self._context(record, state.rule), reading.ts_ms, attributes)
        state.episode = _Episode(event.event_id, reading.ts_ms, reading.value, held_s)
        logger.info("sensor %s: rule %s alarms (value %g %s)", record.spec.id, state.rule.id, *_vu(reading))
        return event

    def _end(
        self,
        record: SensorRecord,
        state: _RuleState,
        reading: SensorReading,
        seismic: Intensity | None,
        reason: str,
    ) -> Event:
        ep = state.episode
        if ep is None:
            raise RuntimeError(f"rule {state.rule.id} has no open episode to end")
        attributes = self._attributes(record, state.rule, reading, seismic, "end", ep.held_s).model_copy(
            update={
                "peak_value": _more_extreme(state.rule, ep.peak_value, reading.value),
                "duration_s": round((reading.ts_ms - ep.start_ts_ms) / 1000, 3),
                "start_event_id": ep.start_event_id,
                "reason": reason,
            }
        )
        logger.info("sensor %s: rule %s alarm ended (%s)", record.spec.id, state.rule.id, reason)
        return build_alarm_event(self._context(record, state.rule), reading.ts_ms, attributes)

    def _context(self, record: SensorRecord, rule: SensorRule) -> AlarmContext:
        return AlarmContext(record, rule.severity, rule.alert_severity, self.worker_id)

    @staticmethod
    def _attributes(
        record: SensorRecord,
        rule: SensorRule,
        reading: SensorReading,
        seismic: Intensity | None,
        phase: str,
        held_s: float,
    ) -> SensorAlarmAttributes:
        return SensorAlarmAttributes.model_validate(
            {
                "phase": phase,
                "sensor_id": record.spec.id,
                "kind": record.spec.kind,
                "value": reading.value,
                "unit": reading.unit,
                "rule": rule.id,
                "rule_type": rule.type,
                "threshold": _threshold_of(rule),
                "intensity": seismic.degree if seismic else None,
                "intensity_scale": seismic.scale if seismic else None,
                "sustained_for_s": round(held_s, 3),
            }
        )


def _vu(reading: SensorReading) -> tuple[float, str]:
    return reading.value, reading.unit
