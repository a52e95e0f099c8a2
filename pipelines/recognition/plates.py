"""Licence plates on tracked vehicles or in a camera's regions: reads voted per track (or per plate
episode in a region), one decision per vehicle, matched against the hotlists held in memory.

Vehicles: each tracked vehicle (the rules' labels) is read on its box no more often than
`look_every_ms`, at most `max_looks_per_frame` per frame. Regions (a gate lane, or the whole frame when
the detector has no vehicles): each region is read every `look_every_ms`; consecutive reads of the same
plate (within one edit, or overlapping boxes) form an episode, which ends after `episode_gap_ms` without
it. A decision needs `min_reads` reads of one text holding `min_vote_share` of the confidence.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import FrameBGR, box_iou
from detectors.plates import PlateRead, PlateReader, PlateReaderConfig
from pipelines.recognition.hotlist import HotlistMatch, levenshtein
from pipelines.recognition.hotlist_book import HotlistBook, ListInfo
from pipelines.recognition.looks import watched_and_due
from pipelines.recognition.stage import StageFrame

logger = logging.getLogger(__name__)

XYXY = tuple[float, float, float, float]
#: what a decision is about: ("track", tracker id) of a vehicle or ("episode", n) of a region plate
DecisionKey = tuple[str, int]


class PlateRecognitionConfig(BaseModel):
    """Plate reading settings (env `ANFANG_PLATES__*`)."""

    model_config = ConfigDict(extra="forbid")

    reader: PlateReaderConfig = Field(default_factory=PlateReaderConfig)
    look_every_ms: int = Field(default=400, ge=0, description="least time between reads of a vehicle/region")
    max_looks_per_frame: int = Field(default=2, ge=1, description="vehicles or regions read per frame")
    min_vehicle_height_px: int = Field(default=24, ge=1, description="smaller vehicles are not read")
    min_reads: int = Field(default=2, ge=1, description="reads of one text before it is decided")
    min_vote_share: float = Field(default=0.5, ge=0, le=1, description="its share of the read confidence")
    episode_gap_ms: int = Field(
        default=5_000, ge=0, description="a region plate unseen this long: new episode"
    )


@dataclass(frozen=True, slots=True)
class PlateDecision:
    """A vehicle's (or region episode's) plate as decided so far, with its hotlist match if any."""

    track_id: int | None  # the vehicle's; None for a plate read in a region
    text: str
    format: str
    colour: str | None
    confidence: float
    reads: int
    plate_xyxy: XYXY
    vehicle_xyxy: XYXY | None
    label: str
    match: HotlistMatch | None = None
    hotlist: ListInfo | None = None
    episode_id: int | None = None  # the region plate episode's (numbered per camera from 1)

    @property
    def key(self) -> DecisionKey:
        """Once-per-vehicle (or per region episode) reporting keys on this."""
        return ("track", self.track_id) if self.track_id is not None else ("episode", self.episode_id or 0)


@dataclass(slots=True)
class _Votes:
    by_text: dict[str, list[PlateRead]] = field(default_factory=dict)
    last_seen_ms: int = 0
    last_look_ms: int | None = None
    last_xyxy: XYXY | None = None
    label: str = "plate"
    vehicle_xyxy: XYXY | None = None

    def add(self, read: PlateRead) -> None:
        self.by_text.setdefault(read.text, []).append(read)

    def leader(self) -> tuple[str, list[PlateRead], float]:
        totals = {t: sum(r.confidence for r in reads) for t, reads in self.by_text.items()}
        text = max(totals, key=lambda t: (totals[t], len(self.by_text[t]), t))
        return text, self.by_text[text], totals[text] / max(1e-9, sum(totals.values()))


class PlateRecognizer:
    """One camera's plate recogniser (the reader and hotlists are shared by the process's cameras)."""

    name = "plate"

    def __init__(
        self,
        labels: Sequence[str],
        regions: Sequence[XYXY],
        reader: PlateReader,
        reader_lock: threading.Lock,
        hotlists: HotlistBook,
        config: PlateRecognitionConfig,
    ) -> None:
        self._labels = set(labels)
        self._regions = list(regions)  # normalised; empty = no region reading
        self._reader, self._lock = reader, reader_lock
        self._hotlists = hotlists
        self._config = config
        self._tracks: dict[int, _Votes] = {}  # vehicles by tracker id
        self._episodes: dict[int, _Votes] = {}  # region plate episodes by number
        self._region_looks: dict[int, int] = {}
        self._episode_ids = itertools.count(1)

    def faces_in(self, frame: StageFrame) -> list[tuple[int, int, int, int]]:
        return []

    def observe(self, frame: StageFrame) -> list[PlateDecision]:
        now = frame.ts_ms
        changed: set[DecisionKey] = set()
        _, due = watched_and_due(
            frame.tracked,
            labels=self._labels,
            min_height_px=self._config.min_vehicle_height_px,
            default_label="",
            tracks=self._tracks,
            new_state=_Votes,
            now_ms=now,
            every_ms=lambda _: self._config.look_every_ms,
            results=lambda votes: sum(len(v) for v in votes.by_text.values()),
        )
        vehicles = due[: self._config.max_looks_per_frame]
        for vehicle in vehicles:
            votes = self._tracks[vehicle.track_id]
            votes.last_look_ms, votes.label, votes.vehicle_xyxy = now, vehicle.label, vehicle.xyxy
            for read in self._read(frame.image_bgr, vehicle.xyxy)[:1]:
                votes.add(read)
                votes.last_xyxy = read.xyxy
                changed.add(("track", vehicle.track_id))
        looks = len(vehicles)
        h, w = frame.image_bgr.shape[:2]
        for i, region in enumerate(self._regions):
            if looks >= self._config.max_looks_per_frame:
                break
            last = self._region_looks.get(i)
            if last is not None and now - last < self._config.look_every_ms:
                continue
            looks += 1
            self._region_looks[i] = now
            box = (region[0] * w, region[1] * h, region[2] * w, region[3] * h)
            for read in self._read(frame.image_bgr, box):
                changed.add(("episode", self._episode_for(read, now)))
        self._forget(now)
        return [d for key in sorted(changed) if (d := self._decide(key, now)) is not None]

    def _read(self, image: FrameBGR, roi: XYXY) -> list[PlateRead]:
        with self._lock:
            reads = self._reader.read(image, roi_xyxy=tuple(int(v) for v in roi))  # type: ignore[arg-type]
        return sorted(reads, key=lambda r: -r.confidence)

    def _episode_for(self, read: PlateRead, now: int) -> int:
        """The region episode this read belongs to (a new one when none is near)."""
        episode = next((n for n, votes in self._episodes.items() if self._same_plate(read, votes, now)), None)
        if episode is None:
            episode = next(self._episode_ids)
            self._episodes[episode] = _Votes()
        votes = self._episodes[episode]
        votes.add(read)
        votes.last_seen_ms, votes.last_xyxy = now, read.xyxy
        return episode

    def _same_plate(self, read: PlateRead, votes: _Votes, now: int) -> bool:
        """Whether the read continues the episode: seen within the gap, one edit from its leading text
        or overlapping its last box."""
        if now - votes.last_seen_ms > self._config.episode_gap_ms:
            return False
        if levenshtein(read.text, votes.leader()[0], 1) <= 1:
            return True
        return votes.last_xyxy is not None and box_iou(read.xyxy, votes.last_xyxy) > 0.3

    def _decide(self, key: DecisionKey, now: int) -> PlateDecision | None:
        kind, number = key
        votes = (self._tracks if kind == "track" else self._episodes)[number]
        if not votes.by_text:
            return None
        text, reads, share = votes.leader()
        if len(reads) < self._config.min_reads or share < self._config.min_vote_share:
            return None
        best = max(reads, key=lambda r: r.confidence)
        colours = [r.colour for r in reads if r.colour is not None]
        found = self._hotlists.match(text, now)
        return PlateDecision(
            track_id=number if kind == "track" else None,
            episode_id=number if kind == "episode" else None,
            text=text,
            format=best.format,
            colour=max(set(colours), key=colours.count) if colours else None,
            confidence=round(share * sum(r.confidence for r in reads) / len(reads), 4),
            reads=len(reads),
            plate_xyxy=votes.last_xyxy or best.xyxy,
            vehicle_xyxy=votes.vehicle_xyxy,
            label=votes.label,
            match=found[0] if found else None,
            hotlist=found[1] if found else None,
        )

    def _forget(self, now: int) -> None:
        horizon = max(self._config.episode_gap_ms, 10_000)
        for held in (self._tracks, self._episodes):
            for number in [n for n, v in held.items() if now - v.last_seen_ms > horizon]:
                del held[number]
