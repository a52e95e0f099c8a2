"""Code read: a QR code or barcode appearing in view (once per appearance; see
`pipelines.recognition.codes`). The payload is stored as read (sanitised, length-limited), never
interpreted: no URL is fetched, nothing is decoded further."""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.plate_read import RegionXYXY
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.recognition.codes import CodeSeen

TYPE: Final = "code_read"


class CodeReadConfig(RuleBase):
    type: Literal["code_read"]
    severity: Severity = Severity.INFO
    labels: list[str] = Field(default_factory=list, description="unused: codes are read on the image")
    regions_xyxy: list[RegionXYXY] = Field(
        default_factory=list, description="normalised boxes read; empty = the whole frame"
    )
    formats: list[str] = Field(
        default_factory=list, description="formats reported (QRCode, EAN13, ...); empty = all"
    )

    recognizers: ClassVar[tuple[str, ...]] = ("code",)


class CodeReadAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["code_read"] = TYPE
    format: str
    payload: str = Field(description="sanitised text: controls and invalid UTF-8 replaced by U+FFFD")
    payload_bytes: int = Field(ge=0, description="length of the raw payload")
    truncated: bool = False


class CodeRead:
    def __init__(self, config: CodeReadConfig) -> None:
        self.rule_id = config.id
        self._formats = set(config.formats)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        return [
            Finding(
                self.rule_id,
                TYPE,
                "code",
                1.0,
                c.xyxy,
                CodeReadAttributes(
                    format=c.format, payload=c.text, payload_bytes=c.payload_bytes, truncated=c.truncated
                ),
            )
            for c in ctx.recognitions.of(CodeSeen)
            if not self._formats or c.format in self._formats
        ]


def build(config: RuleBase, geometry: CameraGeometry) -> CodeRead:
    assert isinstance(config, CodeReadConfig)
    return CodeRead(config)


PLUGIN = RulePlugin(kind=EventKind(TYPE, "Code read", CodeReadAttributes), config=CodeReadConfig, build=build)
