"""Export an ultralytics .pt checkpoint to a fixed-shape ONNX model plus a JSON metadata sidecar.

    python -m detectors.export --weights data/models/people-yolov8s.pt --imgsz 480 640 \
        --out data/models/people-yolov8s-480x640.onnx

The sidecar (`<out>.json`) records class names, input size and the checkpoint's SHA-256, so the ONNX
backend can name classes and an operator can tell which weights a model file came from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from detectors.base import DetectorError
from detectors.onnx_yolo import one_line
from detectors.ultralytics_yolo import import_ultralytics

logger = logging.getLogger(__name__)

#: ONNX opset: 17 runs on every ONNX Runtime build of the last years and covers YOLOv8/11 detect heads.
DEFAULT_OPSET = 17


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def export_onnx(
    weights: Path,
    out: Path,
    imgsz_hw: tuple[int, int],
    *,
    opset: int = DEFAULT_OPSET,
    ultralytics_dir: Path | None = None,
) -> Path:
    """Export `weights` to `out` (fixed 1x3xHxW input, onnxslim-simplified); returns `out`.

    Also writes `out.with_suffix('.json')`. Raises `DetectorError` for a missing or unloadable checkpoint.
    `ultralytics_dir` holds ultralytics' settings file (default: beside `out`).
    """
    if not weights.is_file():
        raise DetectorError(f"weights file not found: {weights}")
    if min(imgsz_hw) <= 0 or any(d % 32 for d in imgsz_hw):
        raise DetectorError(f"imgsz {imgsz_hw} must be positive multiples of 32 (the model's stride)")
    source_sha256 = sha256_of(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    ultralytics = import_ultralytics(ultralytics_dir or out.parent / "ultralytics")
    # ultralytics writes the .onnx beside the checkpoint: work on a copy in a scratch folder.
    with tempfile.TemporaryDirectory(prefix="anfang-export-") as scratch:
        work = Path(scratch) / weights.name
        shutil.copyfile(weights, work)
        try:
            model: Any = ultralytics.YOLO(str(work), task="detect")
        except Exception as exc:  # torch/ultralytics raise many types for bad checkpoints
            cause = one_line(exc).replace(str(work), str(weights))
            raise DetectorError(f"cannot load weights {weights}: {cause}") from exc
        names = {int(k): str(v) for k, v in dict(model.names).items()}
        logger.info("exporting %s (classes %s) at imgsz_hw=%s opset=%d", weights, names, imgsz_hw, opset)
        produced = Path(
            model.export(
                format="onnx",
                imgsz=list(imgsz_hw),
                dynamic=False,
                simplify=True,
                opset=opset,
                half=False,
                nms=False,
                batch=1,
                device="cpu",
                verbose=False,
            )
        )
        shutil.move(str(produced), out)
    meta = {
        "format": "ultralytics-yolo-onnx",
        "class_names": {str(k): v for k, v in sorted(names.items())},
        "imgsz_hw": list(imgsz_hw),
        "opset": opset,
        "source_weights": weights.name,
        "source_sha256": source_sha256,
        "onnx_sha256": sha256_of(out),
        "ultralytics_version": str(getattr(ultralytics, "__version__", "unknown")),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s (%.1f MB) and %s", out, out.stat().st_size / 1e6, out.with_suffix(".json").name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m detectors.export", description="Export an ultralytics checkpoint to ONNX."
    )
    parser.add_argument("--weights", type=Path, required=True, help="ultralytics .pt checkpoint")
    parser.add_argument("--imgsz", type=int, nargs=2, metavar=("H", "W"), default=[480, 640])
    parser.add_argument("--out", type=Path, required=True, help="output .onnx path")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument(
        "--ultralytics-dir",
        type=Path,
        default=Path(os.environ.get("ANFANG_DATA_DIR", "data")) / "ultralytics",
        help="ultralytics settings folder (default: $ANFANG_DATA_DIR/ultralytics)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        export_onnx(
            args.weights,
            args.out,
            (args.imgsz[0], args.imgsz[1]),
            opset=args.opset,
            ultralytics_dir=args.ultralytics_dir,
        )
    except DetectorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
