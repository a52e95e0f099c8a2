"""Bus messages that are not valid events become `DeadLetter`s with a one-line reason, never silence.

`parse_message` is what every consumer runs on raw bytes; `log_dead_letters` is the fallback handler
when no dead-letter topic is configured (each letter is logged at ERROR with its reason).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from pydantic import ValidationError

from events.ports import DeadLetter
from events.schema import Event, UnsupportedSchemaVersion

logger = logging.getLogger(__name__)

#: Longest reason kept (a pydantic error list can be long); the raw bytes are always kept whole.
MAX_REASON_CHARS = 1000


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(event)"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_message(raw: bytes | None, key: bytes | None, origin: str = "") -> Event | DeadLetter:
    """The event in `raw`, or a DeadLetter naming why it is not one (`origin` is appended to the reason)."""
    if raw is None or raw == b"":
        reason = "empty message (no value)"
    else:
        try:
            return Event.from_json_bytes(raw)
        except UnsupportedSchemaVersion as exc:
            reason = f"unsupported schema version: {exc}"
        except ValidationError as exc:
            reason = f"invalid event: {_validation_summary(exc)}"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = f"invalid JSON: {exc}"
        except ValueError as exc:
            reason = f"invalid event: {exc}"
    if origin:
        reason = f"{reason} (from {origin})"
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return DeadLetter(raw=raw or b"", reason=reason, key=key)


def log_dead_letters(letters: Sequence[DeadLetter]) -> None:
    for letter in letters:
        preview = letter.raw[:200].decode("utf-8", errors="replace")
        logger.error("dead letter (key=%r): %s; message starts %r", letter.key, letter.reason, preview)
