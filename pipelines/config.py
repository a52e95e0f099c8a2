"""The YAML config that seeds cameras, zones and rules (validated by pydantic).

Coordinates are normalised 0..1 (x right, y down) so a config survives a change of resolution.
`load_config` turns validation errors into `ConfigError`s naming the key path and the YAML line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from detectors.registry import DetectorConfig
from events.schema import Severity
from events.sensors import SensorSpec
from pipelines.analytics.registry import RuleConfig, rule_type_names
from pipelines.analytics.spec import LineConfig, Strict, ZoneConfig, zone_info
from pipelines.gating import MotionGateConfig

__all__ = [
    "AppConfig",
    "CameraConfig",
    "ConfigError",
    "LineConfig",
    "RuleConfig",
    "ZoneConfig",
    "load_config",
]


class ConfigError(ValueError):
    """The config file is missing, unreadable or invalid; the message names the key and line."""


_URI_SCHEMES = ("file", "rtsp", "rtsps", "rtspt", "http", "https", "v4l2")


class PrivacyConfig(Strict):
    """What a camera's stored evidence may show of people."""

    blur_faces: bool = Field(
        default=True, description="blur every face a face detector finds, except a matched watchlist face"
    )
    blur_persons: bool = Field(default=False, description="also blur whole people (except a matched one)")
    keep_original: bool = Field(
        default=False,
        description="keep the unblurred original beside the snapshot (served only with the unmask "
        "permission and a stated purpose, each view audited)",
    )


class CameraConfig(Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    uri: str = Field(
        min_length=1,
        max_length=2048,
        description="file path, file://, rtsp(s)://, http(s):// (MJPEG, HLS, MP4) or v4l2:///dev/videoN; "
        "credentials in the URI are kept for the worker and never shown",
    )
    enabled: bool = Field(default=True, description="false: kept in the registry, not analysed")
    time_zone: str = Field(
        default="UTC",
        description="IANA time zone of the camera's site (e.g. Asia/Shanghai): when a day starts for "
        "line-crossing counts, and the default of rule schedules",
    )
    analysis_fps: float | None = Field(
        default=None, gt=0, le=120, description="frames analysed per second; None = all"
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTSP lower transport")
    live: bool | None = Field(
        default=None,
        description="treat as live (reconnect on end of stream, drop frames when behind); None = by scheme",
    )
    motion: MotionGateConfig = Field(
        default_factory=MotionGateConfig,
        description="motion gating: the detector runs only on motion, live tracks, or every max_skip_s",
    )
    offline_severity: Severity = Field(default=Severity.HIGH, description="severity of camera_offline events")
    offline_alert: bool = Field(default=True, description="camera_offline events are alerts")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig, description="blurring of stored evidence")
    zones: list[ZoneConfig] = Field(default_factory=list)
    lines: list[LineConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        zone_info(name)
        return name

    @field_validator("uri")
    @classmethod
    def _supported_scheme(cls, uri: str) -> str:
        if "://" in uri:
            scheme = uri.split("://", 1)[0].lower()
            if scheme not in _URI_SCHEMES:
                raise ValueError(f"unsupported URI scheme {scheme!r} (supported: {', '.join(_URI_SCHEMES)})")
        return uri

    @model_validator(mode="after")
    def _references(self) -> CameraConfig:
        zones = {z.id for z in self.zones}
        lines = {ln.id for ln in self.lines}
        for rule in self.rules:
            for zone in rule.zones_used():
                if zone not in zones:
                    raise ValueError(f"rule {rule.id!r} names unknown zone {zone!r} (zones: {sorted(zones)})")
            for line in rule.lines_used():
                if line not in lines:
                    raise ValueError(f"rule {rule.id!r} names unknown line {line!r} (lines: {sorted(lines)})")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"rule ids must be unique per camera: {ids}")
        return self


class TrackerConfig(Strict):
    type: Literal["bytetrack"] = "bytetrack"
    high_conf_det_threshold: float = Field(default=0.4, gt=0, le=1)
    lost_track_buffer: int = Field(default=30, ge=1, description="frames a lost track is kept")
    minimum_iou_threshold: float = Field(default=0.1, ge=0, le=1)
    minimum_consecutive_frames: int = Field(default=2, ge=1)


class SnapshotConfig(Strict):
    enabled: bool = True
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    max_width_px: int = Field(default=768, ge=64)


class AppConfig(Strict):
    site_id: str = Field(default="default-site", min_length=1)
    detector: DetectorConfig
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    cameras: list[CameraConfig] = Field(
        default_factory=list, description="seeds an empty camera registry; the API edits cameras at run time"
    )
    sensors: list[SensorSpec] = Field(
        default_factory=list, description="seeds an empty sensor registry; the API edits sensors at run time"
    )

    @field_validator("sensors")
    @classmethod
    def _unique_sensors(cls, sensors: list[SensorSpec]) -> list[SensorSpec]:
        ids = [s.id for s in sensors]
        if len(ids) != len(set(ids)):
            raise ValueError(f"sensor ids must be unique: {ids}")
        return sensors

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        ids = [c.id for c in cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique: {ids}")
        return cameras


def load_config(path: Path) -> AppConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        key = ".".join(str(p) for p in loc) or "<top>"
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{where}: {key}: {err['msg']}{more}") from exc


_UNION_TAGS = {"onnx", "ultralytics", *rule_type_names()}


def _line_of(node: yaml.Node | None, loc: list[int | str]) -> int | None:
    """1-based line of the deepest YAML node reachable along `loc`."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line
