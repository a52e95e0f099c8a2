"""Each rule's SOP (pipelines/sop.py): declared on any rule type, length-limited, read from the camera
registry at call time (so an edit shows with the next alerts) or from the YAML, "" when none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.config import CameraConfig, load_config
from pipelines.sop import rule_sop, sop_lookup, sops_from_config
from tests.unit.api_fakes import FakeCameraRegistry

REPO = Path(__file__).resolve().parents[2]
SOP = "Call the gate guard on channel 2. / 通过2号频道呼叫门岗。"


def camera(camera_id: str, **sops: str) -> dict[str, Any]:
    """A camera (validated like the registry's) with a zone rule and a fire rule, SOPs as given."""
    spec: dict[str, Any] = {
        "id": camera_id,
        "uri": "rtsp://10.0.0.5/stream1",
        "zones": [{"id": "road", "polygon_xy": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]}],
        "rules": [
            {"id": "road-intrusion", "type": "zone_intrusion", "zone": "road", "sop": sops.get("road", "")},
            {"id": "fire", "type": "fire", "sop": sops.get("fire", "")},
        ],
    }
    return CameraConfig.model_validate(spec).model_dump(mode="json")


def test_registry_lookup_follows_edits() -> None:
    registry = FakeCameraRegistry([camera("gate", road=SOP)])
    lookup = sop_lookup(registry)
    assert lookup("gate", "road-intrusion") == SOP
    assert lookup("gate", "fire") == ""
    assert lookup("gate", "no-such-rule") == ""
    assert lookup("no-such-camera", "road-intrusion") == ""
    registry.put(camera("gate", fire="Evacuate / 疏散"))
    assert lookup("gate", "fire") == "Evacuate / 疏散"
    assert lookup("gate", "road-intrusion") == ""


def test_an_unreachable_registry_reads_as_no_sop(caplog: pytest.LogCaptureFixture) -> None:
    registry = FakeCameraRegistry([camera("gate", road=SOP)])
    registry.fail = "registry topic unavailable"
    assert sop_lookup(registry)("gate", "road-intrusion") == ""
    assert "registry topic unavailable" in caplog.text


@pytest.mark.parametrize("spec", [{}, {"rules": "x"}, {"rules": [1, {"id": "r", "sop": 5}]}])
def test_odd_specs_read_as_no_sop(spec: dict[str, Any]) -> None:
    assert rule_sop(spec, "r") == ""


def test_sop_is_limited_in_length() -> None:
    with pytest.raises(ValueError, match="at most 4000 characters"):
        camera("gate", road="x" * 4001)


def test_the_demo_config_gives_its_rules_sops() -> None:
    config = load_config(REPO / "deploy" / "config" / "demo.yaml")
    lookup = sops_from_config(config)
    assert "radio channel 2" in lookup("cam-campus-01", "road-intrusion")
    assert "120" in lookup("cam-campus-01", "person-fall")
    assert lookup("cam-campus-01", "footpath-crossing") == ""
    assert lookup("other", "road-intrusion") == ""
