#!/usr/bin/env bash
# Fetches the hazard test media that no installed package provides:
#   ${ANFANG_DATA_DIR:-data}/media/flame.avi — the flame video of Debian's castle-game-engine-doc
#   (90 frames, 25 fps, 256x256; the fire detector's real test video).
# The .deb (~245 MiB download, 415 MiB installed: never installed) is fetched with `apt-get download`
# into ${ANFANG_DATA_DIR:-data}/cache, only the one video is extracted, then the .deb is removed.
# Idempotent: does nothing when the video is already there. Prints one line. Needs network access and
# the Debian apt lists the first time only (as root it runs 'apt-get update' itself when they are missing).
# Usage: deploy/fetch_media.sh
set -Eeuo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/local/lib.sh"

readonly PACKAGE="castle-game-engine-doc"
readonly MEMBER="./usr/share/doc/castle-game-engine-doc/examples/lazarus/two_controls/data/fireplace/flame/flame_seamless_compressed.avi"
readonly MEDIA_DIR="$DATA_DIR/media"
readonly FLAME="$MEDIA_DIR/flame.avi"
readonly CACHE_DIR="$DATA_DIR/cache/$PACKAGE"
readonly FLAME_SHA256="6c391c7898fd5503a1dc2be052708c9f46aaedd0f01ab2f39283b81ba39e1688"

fail() {
  printf '[fetch_media] FAILED: %s\n' "$*" >&2
  exit 1
}
trap 'fail "\"$BASH_COMMAND\" exited with status $? (deploy/fetch_media.sh line $LINENO)"' ERR

if [[ -s "$FLAME" ]]; then
  printf '[fetch_media] %s already there\n' "$FLAME"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: this script targets Debian 12"
command -v dpkg-deb >/dev/null 2>&1 || fail "dpkg-deb not found: this script targets Debian 12"
mkdir -p "$MEDIA_DIR" "$CACHE_DIR"
partial="$FLAME.partial"
trap 'rm -f -- "$partial"; rm -f -- "$CACHE_DIR"/"$PACKAGE"_*.deb' EXIT

# apt-get download writes into the current folder (no root needed); its output goes to a log. Images
# without apt lists need an 'apt-get update' first: done here once when root.
download() {
  (cd "$CACHE_DIR" && apt-get download -q "$PACKAGE" >>"$CACHE_DIR/apt-get.log" 2>&1)
}
if ! download; then
  ((EUID == 0)) ||
    fail "apt-get download $PACKAGE failed (run 'apt-get update' as root first?): $(tail -n 3 "$CACHE_DIR/apt-get.log")"
  apt-get update -q >>"$CACHE_DIR/apt-get.log" 2>&1 || true
  download || fail "apt-get download $PACKAGE failed: $(tail -n 3 "$CACHE_DIR/apt-get.log")"
fi
debs=("$CACHE_DIR"/"$PACKAGE"_*.deb)
[[ -s "${debs[0]}" ]] || fail "apt-get download left no $PACKAGE .deb in $CACHE_DIR"

dpkg-deb --fsys-tarfile "${debs[0]}" | tar -xO -f - "$MEMBER" >"$partial"
[[ -s "$partial" ]] || fail "$MEMBER not found in ${debs[0]}"
actual="$(sha256sum "$partial" | cut -d' ' -f1)"
[[ "$actual" == "$FLAME_SHA256" ]] ||
  fail "flame video SHA-256 is $actual, expected $FLAME_SHA256 (package changed?)"
mv -f -- "$partial" "$FLAME"
rm -f -- "${debs[@]}" "$CACHE_DIR/apt-get.log"
rmdir --ignore-fail-on-non-empty -- "$CACHE_DIR"
printf '[fetch_media] %s extracted from %s (%s bytes)\n' "$FLAME" "$(basename "${debs[0]}")" "$(stat -c %s "$FLAME")"
