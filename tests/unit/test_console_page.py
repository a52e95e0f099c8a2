"""The console page and its assets: served with a strict CSP, no external resource, no HTML built from
data, every element the scripts look up present, every form control labelled, and every UI string in
both languages (English and Simplified Chinese). The browser behaviour is tested in tests/browser/."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from api.routes.console import read_asset
from tests.unit.api_fakes import FakeEventStore

STATIC = resources.files("api") / "static"
LANGS = ("en", "zh-CN")
#: Key-looking string literals in the scripts that are not UI strings (storage keys).
NOT_UI_KEYS = re.compile(r"^anfang\.")
KEY_LITERAL = re.compile(r'"([a-z][a-z_]*(?:\.[a-z_]+)+)"')


def _text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _scripts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in STATIC.iterdir() if p.name.endswith(".js")}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    app = create_app(
        FakeEventStore(), tmp_path_factory.mktemp("console"), config=ApiConfig(console_refresh_s=2.5)
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def dictionary() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(_text("i18n.json"))
    return data


class _Page(HTMLParser):
    """Ids, i18n keys, inline code and the form controls (with whether each is labelled) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.keys: set[str] = set()
        self.assets: list[str] = []
        self.inline: list[str] = []  # inline scripts/styles/handlers found
        self.unlabelled: list[str] = []
        self._label_depth = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        self.keys.update(v for k, v in a.items() if k == "data-i18n" or k.startswith("data-i18n-"))
        self.inline += [f"{tag} {k}" for k in a if k.startswith("on") or k == "style"]
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            self._in_script = True
            self.assets.append(a.get("src", ""))
        if tag == "link" and a.get("rel") == "stylesheet":
            self.assets.append(a["href"])
        if tag == "label":
            self._label_depth += 1
        control = tag in {"input", "select", "textarea"} and a.get("type") != "hidden"
        if control and not self._label_depth and not {"aria-label", "data-i18n-aria-label"} & set(a):
            self.unlabelled.append(a.get("id", tag))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("<script> body")


@pytest.fixture(scope="module")
def page() -> _Page:
    parser = _Page()
    parser.feed(_text("index.html"))
    return parser


def test_page_served_with_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'content="2500"' in r.text and "__REFRESH_MS__" not in r.text
    directives = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' blob: data:",
        "connect-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    assert r.headers["x-content-type-options"] == "nosniff"


def test_no_inline_code_so_the_csp_needs_no_unsafe_inline(page: _Page) -> None:
    assert page.inline == []
    assert page.assets == ["/static/console.css", "/static/app.js"]


def test_every_asset_is_served_with_its_type_and_revalidates(client: TestClient) -> None:
    names = {"console.css", "i18n.json", *_scripts()}
    imported = {n for src in _scripts().values() for n in re.findall(r'from "\./([\w-]+\.js)"', src)}
    assert imported <= names and "app.js" in names
    types = {"js": "text/javascript", "css": "text/css", "json": "application/json"}
    for name in sorted(names):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"].startswith(types[name.rsplit(".", 1)[1]]), name
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.content == (STATIC / name).read_bytes()
        again = client.get(f"/static/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "nope.js",
        "..%2Fapp.py",
        "..%2F..%2Fpyproject.toml",
        "App.js",
        "app.js.map",
        ".hidden.js",
    ],
)
def test_static_route_serves_only_console_assets(client: TestClient, name: str) -> None:
    r = client.get(f"/static/{name}")
    assert r.status_code == 404
    assert read_asset(name.replace("%2F", "/")) is None


def test_no_external_resource_anywhere() -> None:
    sources = {"index.html": _text("index.html"), "console.css": _text("console.css"), **_scripts()}
    for name, text in sources.items():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), name
        assert "@import" not in text and "url(" not in text and "@font-face" not in text, name


@pytest.mark.parametrize("name", sorted(_scripts()))
def test_scripts_never_build_html_from_strings(name: str) -> None:
    src = _text(name)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in src, f"{name} uses {sink}"
    assert 'setAttribute("style"' not in src and "setAttribute('style'" not in src


def test_every_element_the_scripts_look_up_exists(page: _Page) -> None:
    wanted = {i for src in _scripts().values() for i in re.findall(r'\$\("([\w-]+)"\)', src)}
    # ids built from a name: "badge-" + view
    wanted |= {f"badge-{v}" for v in ("alerts",)}
    assert wanted, "no lookups found: the pattern is stale"
    assert sorted(wanted - page.ids) == []


def test_every_form_control_is_labelled(page: _Page) -> None:
    assert page.unlabelled == []


def test_both_languages_have_the_same_non_empty_strings(dictionary: dict[str, dict[str, str]]) -> None:
    assert set(dictionary) == set(LANGS)
    en, zh = dictionary["en"], dictionary["zh-CN"]
    assert sorted(set(en) ^ set(zh)) == []
    assert [k for lang in LANGS for k, v in dictionary[lang].items() if not v.strip()] == []
    # the same {placeholders} on both sides
    holes = re.compile(r"\{(\w+)\}")
    assert [k for k in en if set(holes.findall(en[k])) != set(holes.findall(zh[k]))] == []
    # Chinese strings are Chinese (a sample of screens), not English copied over
    for key in ("nav.alerts", "nav.history", "signin.title", "action.acknowledge", "status.acknowledged"):
        assert re.search(r"[\u4e00-\u9fff]", zh[key]), key


def _keys_used(page: _Page) -> tuple[set[str], set[str]]:
    """(keys used literally, prefixes completed at run time: `t("action." + x)`)."""
    keys = set(page.keys)
    prefixes: set[str] = set()
    for src in _scripts().values():
        for literal in KEY_LITERAL.findall(src):
            if not NOT_UI_KEYS.match(literal):
                keys.add(literal)
        prefixes |= set(re.findall(r'\b(?:t|tOr)\("([a-z_.]+\.)"', src))
        prefixes |= set(re.findall(r'\bt\("([a-z_.]+\.)" \+', src))
        for array in re.findall(r"\[([^\[\]]*)\]\s*\.map\(\(k\) => t\(k\)\)", src):
            keys |= set(re.findall(r'"([^"]+)"', array))
        keys |= {f"conn.{state}" for state in re.findall(r'setConn\("(\w+)"\)', src)}
    return keys - {p for p in keys if p.endswith(".")}, prefixes


def test_every_ui_string_key_is_in_both_languages(page: _Page, dictionary: dict[str, dict[str, str]]) -> None:
    keys, prefixes = _keys_used(page)
    assert len(keys) > 100 and {"action.", "status.", "type.", "resolution."} <= prefixes
    for lang in LANGS:
        assert sorted(keys - set(dictionary[lang])) == [], lang
        assert sorted(p for p in prefixes if not any(k.startswith(p) for k in dictionary[lang])) == [], lang


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("action.", ("acknowledge", "start", "assign", "comment", "escalate", "resolve")),
        ("resolution.", ("true_alarm", "false_alarm", "test")),
        ("status.", ("new", "acknowledged", "in_progress", "resolved")),
        ("role.", ("admin", "integrator", "operator", "auditor")),
        ("camstatus.", ("starting", "online", "offline", "reconnecting", "finished", "stopped")),
        ("severity.", ("info", "low", "medium", "high", "critical")),
        ("outcome.", ("ok", "denied", "failed")),
    ],
)
def test_server_vocabularies_are_translated(
    dictionary: dict[str, dict[str, str]], prefix: str, values: tuple[str, ...]
) -> None:
    for lang in LANGS:
        assert [v for v in values if prefix + v not in dictionary[lang]] == [], lang


def test_event_types_are_translated(dictionary: dict[str, dict[str, str]]) -> None:
    from pipelines.event_kinds import EVENT_KINDS

    missing = [k.event_type for k in EVENT_KINDS if f"type.{k.event_type}" not in dictionary["zh-CN"]]
    assert missing == []


def test_language_follows_the_browser_with_a_persisted_switch() -> None:
    src = _text("i18n.js")
    assert "navigator.language" in src and "localStorage.setItem(STORE_KEY" in src
    html = _text("index.html")
    assert '<select id="lang">' in html and 'value="zh-CN"' in html


def test_tokens_stay_in_this_tab_and_never_in_urls_but_the_websocket() -> None:
    scripts = _scripts()
    assert "sessionStorage" in scripts["session.js"] and "localStorage" not in scripts["session.js"]
    token_in_url = [n for n, s in scripts.items() if re.search(r"[?&]token=|token: token\(\)", s)]
    assert token_in_url == ["feed.js"]  # browsers cannot set headers on a WebSocket


def test_package_data_ships_every_asset() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"api" = ["static/*"]' in pyproject  # flat folder: every asset matches
    assert all("/" not in p.name for p in STATIC.iterdir())


def test_every_script_parses_as_an_es_module(tmp_path: Path) -> None:
    """With the Node.js that ships inside the playwright package (a test dependency)."""
    from playwright._impl._driver import compute_driver_executable

    node = compute_driver_executable()[0]
    for name, source in _scripts().items():
        module = tmp_path / (name[: -len(".js")] + ".mjs")  # .mjs: parsed as a module, not a script
        module.write_text(source, encoding="utf-8")
        parsed = subprocess.run(
            [node, "--check", str(module)], check=False, capture_output=True, text=True, timeout=30
        )
        assert parsed.returncode == 0, f"{name}: {parsed.stderr}"
    broken = tmp_path / "broken.mjs"
    broken.write_text('import { x } from "./x.js";\nconst y = ;\n', encoding="utf-8")
    refused = subprocess.run([node, "--check", str(broken)], check=False, capture_output=True, timeout=30)
    assert refused.returncode != 0  # the check can fail
