"""Process settings: environment (ANFANG_*) and CLI flags. The YAML config is separate (pipelines.config)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from anfang.secrets import AuthSettings
from api.config import ApiConfig
from pipelines.camera_runner import SupervisorConfig
from pipelines.recognition.codes import CodeRecognitionConfig
from pipelines.recognition.faces import FaceRecognitionConfig
from pipelines.recognition.plates import PlateRecognitionConfig
from pipelines.sensors.config import SensorHubConfig


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANFANG_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="models, media, chDB store, snapshots")
    mode: Literal["embedded", "distributed"] = Field(
        default="embedded",
        description="embedded: in-process bus + chDB; distributed: Kafka broker + ClickHouse server",
    )
    config_path: Path = Field(default=Path("deploy/config/demo.yaml"))
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_group_id: str = "anfang-sink"
    kafka_events_topic: str = "anfang.events"
    kafka_dlq_topic: str = "anfang.dlq"
    kafka_cameras_topic: str = Field(default="anfang.cameras", description="compacted camera registry")
    kafka_health_topic: str = Field(default="anfang.health", description="worker heartbeats")
    kafka_workers_group: str = Field(
        default="anfang-workers", description="consumer group of pipeline workers sharing the cameras"
    )
    kafka_cameras_partitions: int = Field(
        default=12, ge=1, description="partitions of the cameras topic: the most workers that share cameras"
    )
    kafka_partitions: int = Field(default=3, ge=1, description="partitions for topics anfang creates")
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 9000
    clickhouse_database: str = "anfang"
    clickhouse_user: str = "default"
    clickhouse_password: str = Field(default="", repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    worker_id: str = Field(default_factory=socket.gethostname)
    sink_batch_max: int = Field(default=500, ge=1, description="events per store insert")
    sink_batch_wait_s: float = Field(default=0.5, gt=0, description="max wait to fill a batch")
    bus_queue_max: int = Field(default=10_000, ge=1, description="in-process bus capacity (events)")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    flush_timeout_s: float = Field(default=60.0, gt=0, description="max wait to deliver events at shutdown")
    health_stale_after_s: float = Field(
        default=10.0, gt=0, description="a worker silent this long: its cameras are reported offline"
    )
    supervisor: SupervisorConfig = Field(
        default_factory=SupervisorConfig, description="camera limits, e.g. ANFANG_SUPERVISOR__STALL_S=5"
    )
    progress_every_s: float = Field(default=2.0, gt=0)
    api: ApiConfig = Field(
        default_factory=ApiConfig, description="API limits, e.g. ANFANG_API__PAGE_LIMIT_MAX=1000"
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings,
        description="sign-in limits and the JWT key, e.g. ANFANG_AUTH__ACCESS_TOKEN_TTL_S=600, "
        "ANFANG_AUTH__JWT_SECRET=..., ANFANG_AUTH__SECRETS_FILE=/run/secrets/anfang-jwt",
    )
    # --- sensors ---
    kafka_sensors_topic: str = Field(default="anfang.sensors", description="readings (key = sensor id)")
    kafka_sensor_registry_topic: str = Field(
        default="anfang.sensor-registry", description="compacted sensor registry (key = sensor id)"
    )
    kafka_sensors_group: str = Field(
        default="anfang-sensors", description="consumer group of `anfang sensors` on the readings topic"
    )
    kafka_fusion_group: str = Field(
        default="anfang-fusion", description="consumer group of `anfang sensors` on the events topic"
    )
    sensors: SensorHubConfig = Field(
        default_factory=SensorHubConfig,
        description="reading limits and fusion, e.g. ANFANG_SENSORS__INGEST__RATE_PER_S=20, "
        "ANFANG_SENSORS__FUSION__WINDOW_S=30",
    )
    # --- faces ---
    faces: FaceRecognitionConfig = Field(
        default_factory=FaceRecognitionConfig,
        description="face recognition, e.g. ANFANG_FACES__LOOK_EVERY_MS=200, "
        "ANFANG_FACES__MODEL__DETECTOR=cnn",
    )
    kafka_faces_topic: str = Field(default="anfang.faces", description="compacted face gallery changes")
    expiry_every_s: float = Field(
        default=60.0,
        gt=0,
        description="how often expired watchlists, identities, hotlists and entries are erased",
    )
    faces_mutation_timeout_s: float = Field(
        default=60.0, gt=0, description="longest wait for the store to finish an erasure"
    )
    # --- plates and codes ---
    plates: PlateRecognitionConfig = Field(
        default_factory=PlateRecognitionConfig,
        description="plate reading, e.g. ANFANG_PLATES__LOOK_EVERY_MS=400, ANFANG_PLATES__MIN_READS=2",
    )
    codes: CodeRecognitionConfig = Field(
        default_factory=CodeRecognitionConfig, description="QR/barcode reading, e.g. ANFANG_CODES__WINDOW_MS"
    )
    kafka_hotlists_topic: str = Field(
        default="anfang.hotlists", description="compacted plate hotlist changes"
    )
