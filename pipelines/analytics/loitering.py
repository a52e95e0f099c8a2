"""Loitering: an object stays inside a zone for `min_dwell_s` in total, through brief track loss.

An episode starts when a tracked object's bottom centre is first inside the zone. It goes on while the
object is inside; a gap (lost, or outside the zone) of at most `max_gap_s` continues it, also when the
tracker gives the object a new id: a new track that appears inside the zone within `rejoin_px` of where
a track of an open episode was last seen inside, while that track is not seen, takes the episode over.
The dwell is the time since the episode started, gaps included. One event per episode, when the dwell
reaches `min_dwell_s`; a gap longer than `max_gap_s` ends the episode. `stationary_px` (default 15 px)
keeps an object that has not moved from re-alerting when a long detection dropout starts a new episode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes
from pipelines.analytics.base import (
    XYXY,
    Cooldown,
    Finding,
    FrameContext,
    bottom_centre,
    distance_px,
    inside,
    tracked_rows,
    watched_by,
    zone_in_pixels,
)
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin, ZoneConfig

logger = logging.getLogger(__name__)

TYPE: Final = "loitering"


class LoiteringConfig(RuleBase):
    type: Literal["loitering"]
    zone: str = Field(description="id of a zone of the same camera")
    min_dwell_s: float = Field(
        default=30.0, gt=0, description="seconds inside (gaps included) before it fires"
    )
    max_gap_s: float = Field(
        default=3.0, ge=0, description="a gap (lost or outside) up to this long continues the episode"
    )
    rejoin_px: float = Field(
        default=50.0, ge=0, description="a new track this close to a just-lost one continues its episode"
    )
    stationary_px: float = Field(
        default=15.0, ge=0, description="no new event about an object that moved no more than this; 0 = off"
    )

    def zones_used(self) -> list[str]:
        return [self.zone]


class LoiteringAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["loitering"] = TYPE
    zone_id: str
    dwell_s: float = Field(ge=0, description="seconds since the episode started (brief gaps included)")
    episode_start_ts_ms: int = Field(ge=0, description="when the object was first seen inside (UTC ms)")


@dataclass(slots=True)
class _Episode:
    start_ms: int
    last_inside_ms: int
    last_anchor_px: tuple[float, float]
    fired: bool = False


class Loitering:
    def __init__(self, rule: LoiteringConfig, zone: ZoneConfig, resolution_wh: tuple[int, int]) -> None:
        self.rule_id = rule.id
        self._rule = rule
        self._zone_id = zone.id
        self._zone = zone_in_pixels(zone, resolution_wh)
        self._min_dwell_ms = int(rule.min_dwell_s * 1000)
        self._max_gap_ms = int(rule.max_gap_s * 1000)
        self._cooldown = Cooldown(int(rule.cooldown_s * 1000))
        self._episodes: dict[int, _Episode] = {}

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ts_ms = ctx.ts_ms
        watched = watched_by(ctx, self._rule)
        in_zone = inside(self._zone, watched)
        rows = tracked_rows(watched)
        seen_ids = {row[0] for row in rows}
        # Episodes whose gap grew too long are over.
        self._episodes = {
            t: e for t, e in self._episodes.items() if ts_ms - e.last_inside_ms <= self._max_gap_ms
        }
        findings: list[Finding] = []
        for (track_id, label, conf, xyxy), now_inside in zip(rows, in_zone.tolist(), strict=True):
            if not now_inside:
                continue
            episode = self._episodes.get(track_id) or self._rejoin(track_id, xyxy, seen_ids, ts_ms)
            episode.last_inside_ms, episode.last_anchor_px = ts_ms, bottom_centre(xyxy)
            dwell_ms = ts_ms - episode.start_ms
            if episode.fired or dwell_ms < self._min_dwell_ms or not self._cooldown.ready(track_id, ts_ms):
                continue
            episode.fired = True
            self._cooldown.mark(track_id, ts_ms)
            findings.append(
                Finding(
                    rule_id=self.rule_id,
                    type=TYPE,
                    track_id=track_id,
                    label=label,
                    confidence=conf,
                    xyxy=xyxy,
                    attributes=LoiteringAttributes(
                        zone_id=self._zone_id, dwell_s=dwell_ms / 1000, episode_start_ts_ms=episode.start_ms
                    ),
                )
            )
        self._cooldown.forget_except(seen_ids | set(self._episodes))
        return findings

    def _rejoin(self, track_id: int, xyxy: XYXY, seen_ids: set[int], ts_ms: int) -> _Episode:
        """The open episode of the nearest unseen track within `rejoin_px`, moved to `track_id`; else a
        new episode."""
        anchor = bottom_centre(xyxy)
        candidates = [
            (distance_px(anchor, e.last_anchor_px), old_id)
            for old_id, e in self._episodes.items()
            if old_id not in seen_ids and distance_px(anchor, e.last_anchor_px) <= self._rule.rejoin_px
        ]
        if candidates:
            _, old_id = min(candidates)
            logger.debug(
                "%s: track %d continues the episode of lost track %d", self.rule_id, track_id, old_id
            )
            episode = self._episodes.pop(old_id)
        else:
            episode = _Episode(start_ms=ts_ms, last_inside_ms=ts_ms, last_anchor_px=anchor)
        self._episodes[track_id] = episode
        return episode


def build(config: RuleBase, geometry: CameraGeometry) -> Loitering:
    assert isinstance(config, LoiteringConfig)
    return Loitering(config, geometry.zones[config.zone], geometry.resolution_wh)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Loitering", LoiteringAttributes), config=LoiteringConfig, build=build
)
