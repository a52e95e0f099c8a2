"""The API's own limits. The composition root fills them (from ANFANG_* settings or defaults)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.hotlists import DEFAULT_ENTRIES_MAX, DEFAULT_PATTERN_MAX_CHARS, DEFAULT_PATTERN_MIN_LITERAL_CHARS


class ApiConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    page_limit_default: int = Field(default=50, ge=1, description="items per page when `limit` is absent")
    page_limit_max: int = Field(default=500, ge=1, description="largest `limit` a client may ask for")
    offset_max: int = Field(default=100_000, ge=0, description="deepest `offset` (deep pages are costly)")
    snapshot_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1, description="largest snapshot file read into memory and served"
    )
    console_refresh_s: float = Field(
        default=3.0,
        gt=0,
        description="how often the web console reloads camera states (alerts are pushed live)",
    )
    readiness_timeout_s: float = Field(
        default=2.0, gt=0, description="how long `/readyz` waits for each readiness check to answer"
    )
    camera_body_max_bytes: int = Field(
        default=1024 * 1024, ge=1, description="largest camera body accepted by POST/PUT /v1/cameras"
    )
    export_page_rows: int = Field(
        default=5000,
        ge=1,
        le=10_000,
        description="events read per store page (one CSV chunk / Parquet row group) by exports",
    )
    export_max_rows: int = Field(
        default=1_000_000, ge=1, description="most events one export may hold (more: 422, narrow the range)"
    )
    alerts_cache_ttl_s: float = Field(
        default=1.0,
        ge=0,
        description="how long an identical /v1/alerts page is served from memory (dropped at once on a "
        "new alert or an action in this process; 0 = never cached)",
    )
    live_queue_max: int = Field(
        default=256, ge=1, description="events queued per live client; beyond it its oldest are dropped"
    )
    live_clients_max: int = Field(
        default=500,
        ge=1,
        description="live feed clients (WebSocket + SSE) per API process; more get 503/1013",
    )
    live_ping_interval_s: float = Field(
        default=15.0, gt=0, description="keepalive frame interval of the live feed"
    )
    live_send_timeout_s: float = Field(
        default=10.0, gt=0, description="a live client that takes longer to accept a send is disconnected"
    )
    face_image_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="largest image file accepted for enrolment or face search"
    )
    face_image_max_pixels: int = Field(
        default=40_000_000,
        ge=1,
        description="most pixels (width x height, read from the header before decoding) of an uploaded image",
    )
    face_images_per_request: int = Field(
        default=10, ge=1, description="most images one enrolment or add-images request may carry"
    )
    face_image_stored_max_side_px: int = Field(
        default=1024,
        ge=16,
        description="enrolment images are stored as JPEG with their longest side at most this",
    )
    face_search_k_max: int = Field(default=20, ge=1, description="most identities a face search may ask for")
    face_search_events_max: int = Field(
        default=20, ge=0, description="past face_match events returned per identity found by a face search"
    )
    hotlist_entries_max: int = Field(
        default=DEFAULT_ENTRIES_MAX,
        ge=1,
        description="most live entries of one plate hotlist (each change sends the whole list to workers)",
    )
    hotlist_pattern_max_chars: int = Field(
        default=DEFAULT_PATTERN_MAX_CHARS, ge=2, le=64, description="longest hotlist entry pattern"
    )
    hotlist_pattern_min_literal_chars: int = Field(
        default=DEFAULT_PATTERN_MIN_LITERAL_CHARS,
        ge=1,
        description="fewest letters and digits of a hotlist entry pattern (`*` alone matches every plate)",
    )

    @model_validator(mode="after")
    def _check(self) -> ApiConfig:
        if self.page_limit_default > self.page_limit_max:
            raise ValueError(
                f"page_limit_default ({self.page_limit_default}) exceeds "
                f"page_limit_max ({self.page_limit_max})"
            )
        return self
