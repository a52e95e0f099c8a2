// The camera grid (each camera's state from /v1/cameras) and the sensors, refreshed every few seconds.
import { apiJson } from "./session.js";
import { $, el, cssToken } from "./dom.js";
import { t, tOr, humanize, formatTime, onLangChange } from "./i18n.js";

const STATUS_ORDER = ["offline", "reconnecting", "starting", "online", "finished", "stopped"];
const rank = (s) => { const i = STATUS_ORDER.indexOf(s); return i < 0 ? STATUS_ORDER.length : i; };

function duration(seconds) {
  const s = Math.max(0, Number(seconds));
  if (s < 60) return t("dur.s", { n: s < 10 ? s.toFixed(1) : Math.round(s) });
  if (s < 3600) return t("dur.min", { n: Math.floor(s / 60) });
  if (s < 86400) return t("dur.h", { n: Math.floor(s / 3600) });
  return t("dur.d", { n: Math.floor(s / 86400) });
}

function cameraCard(c) {
  const status = cssToken(c.status);
  const card = el("article", "camera st-" + status);
  card.dataset.cameraId = c.id;
  const top = el("div", "top");
  top.append(el("h3", "name mono", c.id), el("span", "badge st st-" + status, tOr("camstatus.", c.status, humanize)));
  const figures = el("div", "figures");
  figures.append(el("span", null, t("camera.fps", { n: Number(c.analysed_fps).toFixed(1) })));
  figures.append(el("span", null, t("camera.dropped", { n: Number(c.frames_dropped).toLocaleString() })));
  figures.append(el("span", null, typeof c.last_frame_age_s === "number"
    ? t("camera.last_frame", { age: duration(c.last_frame_age_s) }) : t("camera.no_frame")));
  if (Array.isArray(c.resolution_wh)) figures.append(el("span", null, c.resolution_wh.join("×")));
  if (c.reconnects > 0) figures.append(el("span", null, t("camera.reconnects", { n: c.reconnects })));
  card.append(top, figures);
  if (c.cause || (c.detail && (status === "offline" || status === "reconnecting"))) {
    const why = el("div", "why", [c.cause ? tOr("cause.", c.cause, humanize) : "", c.detail || ""].filter(Boolean).join(": "));
    card.append(why);
  }
  card.title = [
    c.since_ts_ms ? t("camera.since", { when: formatTime(c.since_ts_ms) }) : "",
    c.worker_id ? t("camera.worker", { id: c.worker_id }) : t("camera.no_worker"),
  ].filter(Boolean).join("\n");
  return card;
}

function sensorRow(s) {
  const spec = s.spec || {};
  const li = el("li", "sensor");
  li.dataset.sensorId = s.id;
  li.append(el("span", "mono", s.id), el("span", "badge", tOr("sensor.kind.", spec.kind, humanize)),
    el("span", "muted", [spec.name, spec.site_id, spec.unit].filter(Boolean).join(" · ")));
  if (s.ingest) li.append(el("span", "muted", t("sensor.accepted", { n: s.ingest.accepted })));
  return li;
}

export function createCameras(ctx, hooks) {
  let timer = 0;
  let cameras = null;
  let sensors = null;
  let error = null;
  let visible = false;

  function render() {
    const grid = $("camera-grid");
    if (error) {
      $("camera-summary").textContent = "";
      grid.replaceChildren(el("div", "message error", t("camera.unavailable", { detail: error })));
    } else if (cameras) {
      const sorted = cameras.slice().sort((x, y) => rank(x.status) - rank(y.status) || String(x.id).localeCompare(String(y.id)));
      const counts = new Map();
      for (const c of sorted) counts.set(c.status, (counts.get(c.status) || 0) + 1);
      $("camera-summary").textContent = [t("camera.count", { n: cameras.length }),
        ...Array.from(counts, ([st, n]) => n + " " + tOr("camstatus.", st, humanize))].join(" · ");
      grid.replaceChildren(...(sorted.length ? sorted.map(cameraCard) : [el("div", "muted", t("camera.none"))]));
    }
    const box = $("sensor-list");
    $("sensors").hidden = sensors === null;
    if (sensors) box.replaceChildren(...(sensors.length ? sensors.map(sensorRow) : [el("li", "muted", t("sensor.none"))]));
  }

  async function load() {
    if (ctx.can("cameras:read")) {
      try {
        const body = await apiJson("/v1/cameras");
        cameras = Array.isArray(body.items) ? body.items : [];
        error = null;
        if (hooks.onCameras) hooks.onCameras(cameras.map((c) => c.id).sort());
      } catch (err) {
        cameras = null;
        error = err.message;
      }
    }
    if (ctx.can("sensors:read")) {
      try {
        const body = await apiJson("/v1/sensors");
        sensors = Array.isArray(body.items) ? body.items : [];
      } catch {
        sensors = null; // no sensor registry in this deployment
      }
    }
    render();
  }

  onLangChange(render);
  return {
    start() {
      load();
      timer = setInterval(() => { if (visible && !document.hidden) load(); }, ctx.refreshMs);
    },
    stop() {
      clearInterval(timer);
      cameras = null;
      sensors = null;
      $("camera-grid").replaceChildren();
    },
    show() { visible = true; load(); },
    hide() { visible = false; },
  };
}
