"""The YAML config: the sample validates; bad input names the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.analytics.line_crossing import LineCrossingConfig
from pipelines.analytics.zone_intrusion import ZoneIntrusionConfig
from pipelines.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]

VALID = """\
site_id: s1
detector:
  type: onnx
  model_path: models/m.onnx
cameras:
  - id: cam-1
    uri: /tmp/video.avi
    zones:
      - id: z
        polygon_xy: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]
    lines:
      - id: l
        start_xy: [0.5, 0.0]
        end_xy: [0.5, 1.0]
    rules:
      - id: r1
        type: zone_intrusion
        zone: z
      - id: r2
        type: line_crossing
        line: l
"""


def test_sample_demo_config_validates() -> None:
    config = load_config(REPO / "deploy/config/demo.yaml")
    camera = config.cameras[0]
    assert config.detector.type == "onnx"
    assert [type(r).__name__ for r in camera.rules[:2]] == [
        ZoneIntrusionConfig.__name__,
        LineCrossingConfig.__name__,
    ]
    assert [getattr(r, "type", None) for r in camera.rules[2:]] == [
        "loitering",
        "crowd",
        "fall",
        "fire",
        "smoke",
        "camera_tamper",
        "object_abandoned",
    ]


def test_valid_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(VALID)
    config = load_config(path)
    assert config.site_id == "s1"
    assert isinstance(config.cameras[0].rules[1], LineCrossingConfig)


MASK = "    uri: /tmp/video.avi\n    motion:\n      mask_polygons_xy:\n        - {}"


@pytest.mark.parametrize(
    ("old", "new", "key", "line"),
    [
        (
            "  model_path: models/m.onnx",
            "  model_path: models/m.onnx\n  confidence: 7",
            "detector.confidence",
            5,
        ),
        (
            "        polygon_xy: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]",
            "        polygon_xy: [[0.1, 0.1]]",
            "cameras.0.zones.0.polygon_xy",
            10,
        ),
        ("        zone: z", "        zone: nowhere", "cameras.0", 6),
        ("        type: line_crossing", "        type: teleport", "cameras.0.rules.1", 19),
        ("site_id: s1", "site_id: s1\nsurprise: 1", "surprise", 2),
        (
            "    uri: /tmp/video.avi",
            "    uri: /tmp/video.avi\n    analysis_fps: -1",
            "cameras.0.analysis_fps",
            8,
        ),
        (  # a motion mask reaching outside the frame
            "    uri: /tmp/video.avi",
            MASK.format("[[0.1, 0.1], [1.5, 0.2], [0.3, 0.9]]"),
            "cameras.0.motion.mask_polygons_xy.0.1.0",
            10,
        ),
        (  # a malformed one: two points
            "    uri: /tmp/video.avi",
            MASK.format("[[0.1, 0.1], [0.5, 0.2]]"),
            "cameras.0.motion.mask_polygons_xy.0",
            10,
        ),
        ("    uri: /tmp/video.avi", "    uri: ftp://example.com/v.avi", "cameras.0.uri", 7),
    ],
)
def test_invalid_config_names_key_and_line(tmp_path: Path, old: str, new: str, key: str, line: int) -> None:
    assert old in VALID
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}:{line}:" in message
    assert f" {key}:" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("a: [unclosed", "not valid YAML"), ("- just\n- a list\n", "expected a mapping")],
)
def test_not_a_config(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")
