// The live alert feed: the newest alerts from /v1/alerts, then pushed over the WebSocket
// /v1/alerts/live (reconnecting with backoff), newest at the top, with a sound and a flash.
import { apiJson, token, refresh } from "./session.js";
import { $, el, option, cssToken } from "./dom.js";
import { t, formatTime, formatAgo, typeName, onLangChange } from "./i18n.js";
import { thumbnail } from "./snapshots.js";
import { createDetail, severityBadge, statusBadge } from "./detail.js";
import { createCue } from "./cue.js";

const FEED_MAX = 200;
const PAGE = 50;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
const PUSHED_SNAPSHOT_DELAY_MS = 400; // a pushed alert's event reaches the store a moment later

export function createFeed(ctx) {
  const alerts = new Map(); // event_id -> AlertOut
  const nodes = new Map(); // event_id -> <li>
  let order = []; // event_ids, newest first
  let ws = null;
  let backoffMs = BACKOFF_MIN_MS;
  let retryTimer = 0;
  let running = false;
  let unseen = 0;
  let visible = false;
  const cue = createCue($("mute"));
  const detail = createDetail($("alert-detail"), ctx, {
    onChange: (a) => upsert(a, false),
    onClose: () => markSelected(null),
  });

  function setConn(kind) {
    $("conn").className = "conn " + kind;
    $("conn-text").textContent = t("conn." + kind);
  }

  function matches(a) {
    const camera = $("feed-camera").value;
    const status = $("feed-status").value;
    const st = a.state ? a.state.status : "new";
    if (camera && a.camera_id !== camera) return false;
    if (status === "open") return st !== "resolved";
    return !status || st === status;
  }

  function buildItem(a, pushed) {
    const li = el("li", "feed-item");
    li.dataset.eventId = a.event_id;
    const b = el("button", "feed-button");
    b.type = "button";
    b.addEventListener("click", () => select(a.event_id));
    const text = el("div", "feed-text");
    const top = el("div", "feed-top");
    top.append(el("span", "badge type t-" + cssToken(a.type), typeName(a.type)), severityBadge(a.severity));
    const status = el("span", "feed-status");
    status.append(statusBadge(a.state ? a.state.status : "new"));
    top.append(status);
    const meta = el("div", "feed-meta");
    meta.append(el("span", "mono", a.camera_id), el("time", null, formatTime(a.ts_ms)));
    const ago = el("span", "ago muted", formatAgo(a.ts_ms));
    ago.dataset.ts = String(a.ts_ms);
    meta.append(ago);
    text.append(top, meta);
    if (a.label) text.append(el("div", "muted", a.label));
    // roles that must state a purpose to view a snapshot open it from the alert's detail instead
    const thumb = ctx.autoSnapshots() ? thumbnail(a, "small", null, pushed ? PUSHED_SNAPSHOT_DELAY_MS : 0)
      : el("div", "thumb none", t("snapshot.on_request"));
    b.append(thumb, text);
    li.append(b);
    return li;
  }

  function upsert(a, fresh) {
    if (!a || !a.event_id) return;
    const known = alerts.has(a.event_id);
    const prev = alerts.get(a.event_id);
    // a pushed copy (version 0) must not undo a state this page already knows
    if (prev && prev.state && a.state && (a.state.version || 0) < (prev.state.version || 0)) return;
    alerts.set(a.event_id, a);
    if (!known) {
      order.push(a.event_id);
      order.sort((x, y) => alerts.get(y).ts_ms - alerts.get(x).ts_ms);
      while (order.length > FEED_MAX) {
        const dropped = order.pop();
        alerts.delete(dropped);
        nodes.delete(dropped);
      }
    }
    const old = nodes.get(a.event_id);
    if (old) {
      old.querySelector(".feed-status").replaceChildren(statusBadge(a.state ? a.state.status : "new"));
    } else if (alerts.has(a.event_id)) {
      const li = buildItem(a, fresh);
      if (fresh) {
        li.classList.add("fresh");
        li.addEventListener("animationend", () => li.classList.remove("fresh"), { once: true });
      }
      nodes.set(a.event_id, li);
    }
    return !known;
  }

  function render() {
    const shown = order.filter((id) => matches(alerts.get(id))).map((id) => nodes.get(id));
    if (!shown.length) shown.push(el("li", "empty muted", t("feed.empty")));
    $("feed").replaceChildren(...shown);
    markSelected(detail.currentId());
    $("feed-summary").textContent = t("feed.summary", { shown: shown.filter((n) => n.dataset.eventId).length, total: order.length });
  }

  function markSelected(id) {
    for (const [eid, li] of nodes) li.classList.toggle("selected", eid === id);
  }

  function select(id) {
    const a = alerts.get(id);
    if (!a) return;
    markSelected(id);
    detail.open(a);
  }

  async function loadPage() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    const camera = $("feed-camera").value;
    if (camera) q.set("camera_id", camera);
    const status = $("feed-status").value;
    if (status === "open") for (const s of ["new", "acknowledged", "in_progress"]) q.append("status", s);
    else if (status) q.set("status", status);
    try {
      const page = await apiJson("/v1/alerts?" + q);
      for (const a of page.items || []) upsert(a, false);
      render();
      $("feed-error").hidden = true;
    } catch (err) {
      $("feed-error").textContent = t("feed.load_failed", { detail: err.message });
      $("feed-error").hidden = false;
    }
  }

  function arrived(a) {
    const isNew = upsert(a, true);
    if (!isNew) return;
    render();
    if (!matches(a)) return;
    cue.alert();
    if (!visible || document.hidden) {
      unseen += 1;
      ctx.badge("alerts", unseen);
    }
  }

  function connect() {
    if (!running || !token()) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/v1/alerts/live?" + new URLSearchParams({ token: token() }));
    ws = socket;
    setConn("connecting");
    socket.addEventListener("message", (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.kind === "hello") { // subscribed: from now on nothing is missed
        backoffMs = BACKOFF_MIN_MS;
        setConn("live");
        loadPage(); // what arrived while we were away
      } else if (msg.kind === "event" && msg.event) {
        arrived(msg.event);
      }
    });
    socket.addEventListener("close", (ev) => {
      if (ws !== socket) return;
      ws = null;
      if (!running) return;
      setConn("offline");
      if (ev.code === 4401) refresh().catch(() => {}); // the token expired: a new one before retrying
      if (ev.code === 4403) { setConn("forbidden"); return; }
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, backoffMs);
      backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
    });
  }

  let cameraIds = [];
  function syncCameras(ids) {
    cameraIds = ids;
    const select = $("feed-camera");
    const current = select.value;
    select.replaceChildren(option("", t("feed.all_cameras")), ...ids.map((id) => option(id, id, id === current)));
  }

  function tick() {
    for (const span of $("feed").querySelectorAll(".ago")) span.textContent = formatAgo(Number(span.dataset.ts));
    // the push carries new alerts only: colleagues' actions on listed ones arrive with this reload
    if (visible && !document.hidden) loadPage();
  }

  let ticker = 0;
  $("feed-camera").addEventListener("change", () => { render(); loadPage(); });
  $("feed-status").addEventListener("change", () => { render(); loadPage(); });
  onLangChange(() => {
    for (const [id, li] of nodes) {
      const fresh = buildItem(alerts.get(id));
      nodes.set(id, fresh);
      li.replaceWith(fresh);
    }
    syncCameras(cameraIds);
    render();
    detail.rerender();
    if (ws === null && running) setConn("offline");
    else if (running) setConn(ws.readyState === WebSocket.OPEN ? "live" : "connecting");
  });

  return {
    start() {
      running = true;
      loadPage();
      connect();
      ticker = setInterval(tick, 15000);
    },
    stop() {
      running = false;
      clearTimeout(retryTimer);
      clearInterval(ticker);
      if (ws) { const s = ws; ws = null; s.close(1000); }
      alerts.clear();
      nodes.clear();
      order = [];
      detail.close();
      setConn("off");
    },
    show() {
      visible = true;
      unseen = 0;
      ctx.badge("alerts", 0);
    },
    hide() { visible = false; },
    syncCameras,
  };
}
