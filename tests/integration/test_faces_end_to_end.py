"""Face recognition through the product itself: a composited video file -> `anfang demo --once`
(GStreamer, the INT8 people detector, tracker, recognition stage, face rules, blurred evidence, bus,
sink, chDB) with messi5.jpg enrolled in the store beforehand -> exactly one face_match, from the gallery
the process loaded at start, with a snapshot where no other face is left unblurred."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from events.faces import FaceEmbedding, Identity, Watchlist
from events.ports import EventQuery
from events.store.chdb_store import ChdbStore
from events.store.faces_sql import FaceSqlStore
from pipelines.recognition.faces import FaceRuntime
from pipelines.recognition.gallery import FaceGallery
from tests.face_video import composite, face_crop, find_walker, load, messi, write_video
from tests.unit.detector_assets import people_detector_int8

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("ANFANG_DATA_DIR", REPO / "data")) / "models"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_an_enrolled_face_on_a_walking_person_is_matched_once_by_the_running_product(tmp_path: Path) -> None:
    runtime = FaceRuntime(FaceGallery())
    model = runtime.model()
    image = messi()
    vector = [float(v) for v in model.encode(image, model.detect(image))[0]]
    walker = find_walker(people_detector_int8(), 40)
    video = write_video(composite(walker, face_crop(image, model), seed=1), tmp_path / "walker.avi")

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = ChdbStore(data_dir / "chdb")
    store.ensure_schema()
    faces = FaceSqlStore(store)
    faces.ensure_schema()
    faces.put_watchlist(
        Watchlist(watchlist_id="wl_e2e", name="wanted", purpose="e2e test", created_ts_ms=0, updated_ts_ms=0)
    )
    faces.put_identity(
        Identity(
            identity_id="id_e2e",
            watchlist_id="wl_e2e",
            name="Messi",
            purpose="e2e test",
            created_ts_ms=0,
            updated_ts_ms=0,
        )
    )
    faces.add_embeddings(
        [
            FaceEmbedding(
                embedding_id="emb_1",
                identity_id="id_e2e",
                watchlist_id="wl_e2e",
                vector=vector,
                image_sha256="0" * 64,
                created_ts_ms=0,
            )
        ]
    )
    store.close()

    config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
    config["detector"]["model_path"] = str(MODELS_DIR / "people-yolov8s-480x640.onnx")
    rule = {"id": "wanted", "type": "face_match", "labels": ["person", "person_down"]}
    config["cameras"] = [{"id": "cam-door", "uri": str(video), "rules": [rule]}]
    config["sensors"] = []
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "ANFANG_DATA_DIR": str(data_dir), "ANFANG_MODE": "embedded"}
    proc = subprocess.run(
        [sys.executable, "-m", "anfang.cli", "demo", "--once", "--config", str(tmp_path / "config.yaml")],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    store = ChdbStore(data_dir / "chdb")
    try:
        matches = store.query(EventQuery(types=("face_match",), limit=10)).events
    finally:
        store.close()
    assert len(matches) == 1, proc.stderr[-3000:]
    attributes = matches[0].attributes.model_dump()
    assert (attributes["identity_id"], attributes["watchlist_id"]) == ("id_e2e", "wl_e2e")
    assert matches[0].snapshot is not None
    snapshot = load(data_dir / matches[0].snapshot.uri)
    reveal = attributes["face_xyxy"]
    for box in runtime.find_faces(snapshot):
        overlap = max(0, min(box[2], reveal[2]) - max(box[0], reveal[0])) * max(
            0, min(box[3], reveal[3]) - max(box[1], reveal[1])
        )
        assert overlap > 0, f"an unblurred face besides the matched one: {box}"
