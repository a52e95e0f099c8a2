"""The web console: `/` (the page) and `/static/<file>` (its scripts, style sheet and UI strings).

Every asset is served by anfang itself (no CDN, no web fonts). The Content-Security-Policy lets the
page run only its own same-origin scripts and styles, talk only to this origin (HTTP and the live
WebSocket) and show only its own images or `blob:` URLs (snapshots fetched with the bearer header).
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import ConfigDep

router = APIRouter(tags=["console"])

CONSOLE_CSP = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self' blob: data:; "
    "connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Asset names the `/static/` route serves (flat: no folders, so no path tricks) and their media types.
_ASSET_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}\.(js|css|json)$")
_MEDIA_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "json": "application/json",
}
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _static_dir() -> Traversable:
    return resources.files("api") / "static"


def render_console(refresh_s: float) -> tuple[str, str]:
    """(HTML, Content-Security-Policy) of the page; `refresh_s`: how often it reloads camera states."""
    html = (_static_dir() / "index.html").read_text(encoding="utf-8")
    return html.replace("__REFRESH_MS__", str(round(refresh_s * 1000))), CONSOLE_CSP


def read_asset(name: str) -> tuple[bytes, str] | None:
    """(content, media type) of a console asset, or None when `name` is not one."""
    match = _ASSET_NAME.match(name)
    if match is None:
        return None
    node = _static_dir() / name
    if not node.is_file():
        return None
    return node.read_bytes(), _MEDIA_TYPES[match.group(1)]


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def console(config: ConfigDep) -> HTMLResponse:
    html, csp = render_console(config.console_refresh_s)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, **_COMMON_HEADERS})


@router.get("/static/{name}", include_in_schema=False)
def console_asset(name: str, request: Request) -> Response:
    """A script, style sheet or the UI strings (revalidated by ETag on each load)."""
    asset = read_asset(name)
    if asset is None:
        return JSONResponse({"detail": "no such console asset"}, status_code=404)
    content, media_type = asset
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Content-Security-Policy": CONSOLE_CSP, **_COMMON_HEADERS}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)
