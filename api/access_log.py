"""Keeps credentials sent in a URL out of the logs.

Browsers cannot set headers on a WebSocket, so the live feed accepts `?token=<access token or key>`.
uvicorn logs every request's path with its query string: on `uvicorn.access` (HTTP) and on
`uvicorn.error` (WebSocket `[accepted]` / `403` lines). `install_token_redaction()` adds a filter to
those loggers that rewrites `token=<anything>` (and `access_token=`, `refresh_token=`, `api_key=`) to
`token=***` in the message and its arguments, keeping the arguments' shape for uvicorn's formatters.
Call it after uvicorn configured logging (`uvicorn.Config(...)` does it in its constructor).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

#: Loggers that print request paths with their query strings.
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")

_SECRET_PARAM = re.compile(r"(?i)(\b(?:access_token|refresh_token|api_key|token)=)[^&\s\"']*")
REDACTED = "***"


def redact_query_secrets(text: str) -> str:
    """`text` with the values of token-like query parameters replaced by `***`."""
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


def _redact(value: Any) -> Any:
    return redact_query_secrets(value) if isinstance(value, str) else value


class TokenRedactingFilter(logging.Filter):
    """Rewrites token-like query parameters in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact(v) for k, v in record.args.items()}
        return True


def install_token_redaction(logger_names: Iterable[str] = UVICORN_LOGGERS) -> None:
    """Adds the redacting filter to each logger (idempotent)."""
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in target.filters):
            target.addFilter(TokenRedactingFilter())
