"""The embedded camera registry: one JSON file in the data folder, plus in-process feeds of its changes.

The file holds `{"format": 1, "cameras": [CameraRecord, ...]}`. Every change rewrites it atomically
(temporary file in the same folder, fsync, `os.replace`), so a crash leaves the old or the new file,
never half of one. A file that cannot be read or parsed is a RegistryError naming the path and the
cause: it is never silently replaced by an empty registry.

`feed()` gives the embedded worker every change made through this registry, in order: its first poll
returns the current cameras as puts. A put whose spec equals the camera's current spec changes nothing
(no new version, no change emitted).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from events.cameras import CameraChange, CameraRecord, CameraSpec, RegistryError, camera_id_of

logger = logging.getLogger(__name__)

FILE_FORMAT = 1


def _load(path: Path) -> dict[str, CameraRecord]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read the camera registry {path}: {exc}") from exc
    try:
        doc: Any = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
            raise ValueError(f'expected an object with "format": {FILE_FORMAT}')
        cameras = doc.get("cameras")
        if not isinstance(cameras, list):
            raise ValueError('"cameras" is not a list')
        records: dict[str, CameraRecord] = {}
        for i, raw in enumerate(cameras):
            record = CameraRecord.model_validate(raw)
            if record.camera_id in records:
                raise ValueError(f"camera {record.camera_id!r} appears twice (entry {i})")
            records[record.camera_id] = record
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        cause = " ".join(str(exc).split())
        raise RegistryError(
            f"the camera registry {path} is corrupt ({cause}); repair or move the file away"
        ) from exc
    return records


def _save(path: Path, records: dict[str, CameraRecord]) -> None:
    doc = {
        "format": FILE_FORMAT,
        "cameras": [records[k].model_dump(mode="json") for k in sorted(records)],
    }
    data = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise RegistryError(f"cannot write the camera registry {path}: {exc}") from exc
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Makes the rename durable where the platform allows it (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        logger.debug("cannot fsync %s", folder)
    finally:
        os.close(fd)


class FileCameraRegistry:
    """`CameraRegistry` persisted in one JSON file; thread-safe. `path` is the file (created on first put)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._records = _load(self.path)
        self._feeds: list[LocalCameraFeed] = []
        self._closed = False
        logger.info("camera registry %s: %d camera(s)", self.path, len(self._records))

    def list(self) -> list[CameraRecord]:
        with self._lock:
            return [self._records[k] for k in sorted(self._records)]

    def get(self, camera_id: str) -> CameraRecord | None:
        with self._lock:
            return self._records.get(camera_id)

    def put(self, spec: CameraSpec) -> CameraRecord:
        camera_id = camera_id_of(spec)
        spec = copy.deepcopy(spec)
        with self._lock:
            self._check_open()
            old = self._records.get(camera_id)
            if old is not None and old.spec == spec:
                return old
            record = CameraRecord(
                camera_id=camera_id,
                spec=spec,
                version=(old.version + 1) if old else 1,
                updated_ts_ms=int(time.time() * 1000),
            )
            _save(self.path, {**self._records, camera_id: record})
            self._records[camera_id] = record
            self._notify(CameraChange(camera_id, spec))
        return record

    def delete(self, camera_id: str) -> bool:
        with self._lock:
            self._check_open()
            if camera_id not in self._records:
                return False
            _save(self.path, {k: v for k, v in self._records.items() if k != camera_id})
            del self._records[camera_id]
            self._notify(CameraChange(camera_id, None))
        return True

    def feed(self) -> LocalCameraFeed:
        """A feed of every change from now on; its first poll returns the current cameras as puts."""
        with self._lock:
            initial = [CameraChange(k, self._records[k].spec) for k in sorted(self._records)]
            feed = LocalCameraFeed(self, initial)
            self._feeds.append(feed)
        return feed

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RegistryError(f"the camera registry {self.path} is closed")

    def _notify(self, change: CameraChange) -> None:
        """Called under the registry's lock, so every feed sees the changes in the same order."""
        for feed in self._feeds:
            feed._push(change)

    def _remove_feed(self, feed: LocalCameraFeed) -> None:
        with self._lock:
            if feed in self._feeds:
                self._feeds.remove(feed)


class LocalCameraFeed:
    """`CameraFeed` of a FileCameraRegistry: every camera of the registry, changes in order."""

    def __init__(self, registry: FileCameraRegistry, initial: list[CameraChange]) -> None:
        self._registry = registry
        self._cond = threading.Condition()
        self._pending: deque[CameraChange] = deque(initial)
        self._closed = False

    def poll(self, timeout_s: float) -> list[CameraChange]:
        """Raises RegistryError when the feed was closed before the call; [] when closed while waiting."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            if self._closed:
                raise RegistryError("the camera feed is closed")
            while not self._pending and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            changes = [copy.deepcopy(c) for c in self._pending]
            self._pending.clear()
            return changes

    def close(self) -> None:
        self._registry._remove_feed(self)
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()

    def _push(self, change: CameraChange) -> None:
        with self._cond:
            if not self._closed:
                self._pending.append(change)
                self._cond.notify_all()
