"""Export an ultralytics .pt checkpoint to ONNX (plus a JSON sidecar), and optionally quantise it to INT8.

    python -m detectors.export --weights data/models/people-yolov8s.pt --imgsz 480 640 \
        --out data/models/people-yolov8s-480x640.onnx
    python -m detectors.export --int8 --out data/models/people-yolov8s-480x640.onnx \
        --calib-video vtest.avi --calib-range 0 300 --calib-frames 30 --eval-range 300 -1 --eval-frames 50

The FP32 model has a fixed H x W and a dynamic batch axis (`--fixed-batch` for batch 1): measured
interleaved on 2 cores, 152 runs each, batch 1 with a dynamic vs a fixed batch axis took 122 vs 119 ms
(FP32) and 45 vs 47 ms (INT8) median, the same within noise; `detect_batch` then runs N frames in one
call (on these 2 CPU cores batching gains ~0-6 % per frame; bench/int8.py measures it). The sidecar
(`<out>.json`) records class names, input size and the checkpoint's SHA-256, so the ONNX backend can
name classes and an operator can tell which weights a model file came from.

`--int8` quantises the FP32 model at `--out` (exported first when `--weights` is given) into its
sibling `<out stem>.int8.onnx` and writes `<out stem>.int8.accuracy.json` (detectors/quantize.py,
detectors/int8.py). Calibration frames come from `--calib-video`; evaluation frames from
`--eval-video` (default: the same video, frames after the calibration range) and never overlap them.
Exit status: 0 done (INT8 accepted), 2 bad input, 3 INT8 rejected by `--min-recall` (the model file
is written, its report says `accepted: false`, and the detector refuses to load it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from detectors.base import DetectorError
from detectors.int8 import accuracy_report_path, int8_model_path, sha256_of
from detectors.onnx_yolo import one_line
from detectors.ultralytics_yolo import import_ultralytics

logger = logging.getLogger(__name__)

#: ONNX opset: 17 runs on every ONNX Runtime build of the last years and covers YOLOv8/11 detect heads.
DEFAULT_OPSET = 17
#: Exit status of an INT8 export whose accuracy check failed.
EXIT_REJECTED = 3

__all__ = ["DEFAULT_OPSET", "EXIT_REJECTED", "export_onnx", "main", "sha256_of"]


def _fix_input_hw(path: Path, imgsz_hw: tuple[int, int]) -> None:
    """ultralytics' dynamic export frees batch, H and W: pin H and W again, re-simplify (batch stays free)."""
    import onnx
    import onnxslim  # type: ignore[import-untyped]

    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for axis, size in ((2, imgsz_hw[0]), (3, imgsz_hw[1])):
        dims[axis].Clear()
        dims[axis].dim_value = size
    onnx.save(onnxslim.slim(model), str(path))


def export_onnx(
    weights: Path,
    out: Path,
    imgsz_hw: tuple[int, int],
    *,
    opset: int = DEFAULT_OPSET,
    ultralytics_dir: Path | None = None,
    dynamic_batch: bool = True,
) -> Path:
    """Export `weights` to `out` (fixed H x W input, dynamic or 1 batch, onnxslim-simplified); returns `out`.

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
        logger.info(
            "exporting %s (classes %s) at imgsz_hw=%s opset=%d batch=%s",
            weights,
            names,
            imgsz_hw,
            opset,
            "dynamic" if dynamic_batch else 1,
        )
        produced = Path(
            model.export(
                format="onnx",
                imgsz=list(imgsz_hw),
                dynamic=dynamic_batch,
                simplify=True,
                opset=opset,
                half=False,
                nms=False,
                batch=1,
                device="cpu",
                verbose=False,
            )
        )
        if dynamic_batch:
            _fix_input_hw(produced, imgsz_hw)
        shutil.move(str(produced), out)
    meta = {
        "format": "ultralytics-yolo-onnx",
        "class_names": {str(k): v for k, v in sorted(names.items())},
        "imgsz_hw": list(imgsz_hw),
        "dynamic_batch": dynamic_batch,
        "opset": opset,
        "source_weights": weights.name,
        "source_sha256": source_sha256,
        "onnx_sha256": sha256_of(out),
        "ultralytics_version": str(getattr(ultralytics, "__version__", "unknown")),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s (%.1f MB) and %s", out, out.stat().st_size / 1e6, out.with_suffix(".json").name)
    return out


def _frame_range(values: list[int], total: int, what: str) -> tuple[int, int]:
    start, stop = values
    stop = total if stop < 0 else min(stop, total)
    if not 0 <= start < stop:
        raise DetectorError(f"{what} {values} selects no frames of a {total}-frame video")
    return start, stop


def _export_int8(args: argparse.Namespace) -> int:
    from detectors.quantize import export_int8
    from detectors.video_frames import frame_count, spread_indices

    if args.calib_video is None:
        raise DetectorError("--int8 needs --calib-video")
    eval_video: Path = args.eval_video or args.calib_video
    for video in {args.calib_video, eval_video}:
        if not video.is_file():
            raise DetectorError(f"video not found: {video}")
    calib_start, calib_stop = _frame_range(args.calib_range, frame_count(args.calib_video), "--calib-range")
    same_video = eval_video.resolve() == args.calib_video.resolve()
    eval_default = [calib_stop, -1] if same_video else [0, -1]
    eval_start, eval_stop = _frame_range(
        args.eval_range or eval_default, frame_count(eval_video), "--eval-range"
    )
    report = export_int8(
        args.out,
        calib_video=args.calib_video,
        calib_indices=spread_indices(calib_start, calib_stop, args.calib_frames),
        eval_video=eval_video,
        eval_indices=spread_indices(eval_start, eval_stop, args.eval_frames),
        min_recall=args.min_recall,
        threads=args.threads,
    )
    report_path = accuracy_report_path(int8_model_path(args.out))
    if not report.accepted:
        sys.stderr.write(f"error: INT8 model rejected: {report.reason} (report: {report_path})\n")
        return EXIT_REJECTED
    sys.stdout.write(
        f"INT8 accepted: {report.reason}; precision {report.precision:.4f}; "
        f"{report.int8_fps:.1f} FPS vs FP32 {report.fp32_fps:.1f} (x{report.speedup:.2f}); "
        f"report {report_path}\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m detectors.export",
        description="Export an ultralytics checkpoint to ONNX; --int8 also quantises it and checks accuracy.",
    )
    parser.add_argument("--weights", type=Path, help="ultralytics .pt checkpoint (needed unless --int8 only)")
    parser.add_argument("--imgsz", type=int, nargs=2, metavar=("H", "W"), default=[480, 640])
    parser.add_argument("--out", type=Path, required=True, help="output (FP32) .onnx path")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--fixed-batch", action="store_true", help="batch axis fixed at 1 (default: dynamic)")
    parser.add_argument(
        "--ultralytics-dir",
        type=Path,
        default=Path(os.environ.get("ANFANG_DATA_DIR", "data")) / "ultralytics",
        help="ultralytics settings folder (default: $ANFANG_DATA_DIR/ultralytics)",
    )
    int8 = parser.add_argument_group("INT8 (static quantisation of the FP32 model at --out)")
    int8.add_argument("--int8", action="store_true", help="write <out>.int8.onnx and its accuracy report")
    int8.add_argument("--calib-video", type=Path, help="video the calibration frames come from")
    int8.add_argument(
        "--calib-frames", type=int, default=30, help="calibration frames, spread over the range"
    )
    int8.add_argument("--calib-range", type=int, nargs=2, metavar=("START", "STOP"), default=[0, 300])
    int8.add_argument("--eval-video", type=Path, help="video of the held-out frames (default: --calib-video)")
    int8.add_argument("--eval-frames", type=int, default=50, help="held-out frames, spread over the range")
    int8.add_argument(
        "--eval-range",
        type=int,
        nargs=2,
        metavar=("START", "STOP"),
        help="STOP -1 = the end (default: after --calib-range on the same video, else the whole video)",
    )
    int8.add_argument("--min-recall", type=float, default=0.97, help="INT8 vs FP32 boxes at IoU 0.5")
    int8.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for the speed check")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.weights is not None:
            export_onnx(
                args.weights,
                args.out,
                (args.imgsz[0], args.imgsz[1]),
                opset=args.opset,
                ultralytics_dir=args.ultralytics_dir,
                dynamic_batch=not args.fixed_batch,
            )
        elif not args.int8:
            raise DetectorError("give --weights (export) and/or --int8 (quantise the model at --out)")
        if args.int8:
            return _export_int8(args)
    except DetectorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
