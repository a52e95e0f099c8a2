"""The web console: one self-contained HTML page (no CDN, no fonts) polling `/v1/alerts`."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.deps import ConfigDep

router = APIRouter(tags=["console"])

_INLINE_RE = {kind: re.compile(rf"<{kind}>(.*?)</{kind}>", re.DOTALL) for kind in ("script", "style")}


def _csp_hashes(html: str, kind: str) -> str:
    digests = (hashlib.sha256(body.encode()).digest() for body in _INLINE_RE[kind].findall(html))
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


def render_console(refresh_s: float) -> tuple[str, str]:
    """(HTML, Content-Security-Policy): only the page's own inline script/style may run, only same-origin."""
    html = (resources.files("api") / "static" / "index.html").read_text(encoding="utf-8")
    html = html.replace("__REFRESH_MS__", str(round(refresh_s * 1000)))
    csp = (
        "default-src 'none'; "
        f"script-src {_csp_hashes(html, 'script')}; "
        f"style-src {_csp_hashes(html, 'style')}; "
        "img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, csp


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def console(config: ConfigDep) -> HTMLResponse:
    html, csp = render_console(config.console_refresh_s)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )
