"""Keeping camera credentials out of responses and logs.

`events.cameras.redact_spec` removes the password from a camera's `uri`; the API adds a second layer
for what it shows: passwords inside any URI in any string (`scheme://user:pw@`), `key=value` secrets
(`?pwd=...`, common on MJPEG cameras), and values of secret-named keys, at any depth of the spec.

A client that reads a camera, edits its zones and PUTs it back sends the redacted values back;
`restore_redacted` puts the stored secrets back in exactly those places, so an edit never replaces a
password by `***`.
"""

from __future__ import annotations

import re
from typing import Any

from events.cameras import CameraSpec, redact_spec

MASK = "***"

_SECRET_KEY = r"(?:password|passwd|pwd|pass|secret|token|api_?key|access_?key|auth)"
_URI_PASSWORD_RE = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*):[^\s/]*@")
_KEY_VALUE_RE = re.compile(rf"(?i)(\b{_SECRET_KEY}=)[^&;\s]+")
_SECRET_KEY_RE = re.compile(rf"(?i)^(?:\w*_)?{_SECRET_KEY}$")


def redact_text(text: str) -> str:
    """`text` with URI passwords and `password=...`-style values replaced by `***` (for messages, logs)."""
    text = _URI_PASSWORD_RE.sub(rf"\1:{MASK}@", text)
    return _KEY_VALUE_RE.sub(rf"\g<1>{MASK}", text)


def is_secret_key(name: str) -> bool:
    """A key whose value is a secret (`password`, `rtsp_password`, `api_key`, `token`, ...)."""
    return _SECRET_KEY_RE.match(name) is not None


def _safe(value: Any, key: str | None) -> Any:
    if isinstance(value, dict):
        return {k: _safe(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v, None) for v in value]
    if isinstance(value, str):
        if key is not None and is_secret_key(key) and value:
            return MASK
        return redact_text(value)
    return value


def safe_spec(spec: CameraSpec) -> CameraSpec:
    """A copy of the camera spec safe to show or log: no credentials anywhere in it."""
    shown = _safe(redact_spec(spec), None)
    assert isinstance(shown, dict)  # a dict stays a dict
    return shown


def restore_redacted(new: Any, stored: Any, shown: Any) -> Any:
    """`new` with the secrets sent back exactly as they were shown (redacted) replaced by the stored ones.

    `shown` is `safe_spec(stored)`. A string with a secret inside (a URI) is restored only when it is
    sent back whole and unchanged; a secret-named key's value only when the plain values beside it
    (host, user, ...) are unchanged too. So a secret never follows a changed destination: pointing a
    camera elsewhere needs its password sent again.
    """
    if isinstance(new, dict) and isinstance(stored, dict) and isinstance(shown, dict):
        same_place = _plain_values_unchanged(new, shown)
        out: dict[Any, Any] = {}
        for key, value in new.items():
            if key not in stored:
                out[key] = value
            elif is_secret_key(str(key)) and not isinstance(value, dict | list):
                keep = same_place and value == shown.get(key) and value != stored[key]
                out[key] = stored[key] if keep else value
            else:
                out[key] = restore_redacted(value, stored[key], shown.get(key))
        return out
    if isinstance(new, list) and isinstance(stored, list) and isinstance(shown, list):
        if len(stored) != len(shown):
            return new
        return [restore_redacted(v, stored[i], shown[i]) if i < len(stored) else v for i, v in enumerate(new)]
    if isinstance(new, str) and new == shown and shown != stored:
        return stored
    return new


def _plain_values_unchanged(new: dict[Any, Any], shown: dict[Any, Any]) -> bool:
    """The non-secret scalar values of `new` are those of `shown` (none added, none removed)."""
    return all(
        new.get(k) == shown.get(k)
        for k in new.keys() | shown.keys()
        if not is_secret_key(str(k)) and not isinstance(new.get(k, shown.get(k)), dict | list)
    )
