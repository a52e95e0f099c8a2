// History search for operators and auditors: filters, cursor paging ("more"), counts by type and
// CSV / Parquet exports (with the purpose the audit trail records).
import { api, apiJson, errorOf } from "./session.js";
import { $, el, option, cell, table, splitList, selectedValues, localInputMs, announce, cssToken } from "./dom.js";
import { t, tOr, humanize, formatTime, typeName, statusName, onLangChange } from "./i18n.js";
import { createDetail, severityBadge } from "./detail.js";
import { askPurpose } from "./dialog.js";

const PAGE = 50;
const STATUSES = ["new", "acknowledged", "in_progress", "resolved"];

export function createHistory(ctx) {
  let items = [];
  let total = null;
  let nextCursor = null;
  let buckets = [];
  let query = null; // URLSearchParams of the last search
  let seq = 0;
  const detail = createDetail($("history-detail"), ctx, { onChange: (a) => replaceItem(a) });

  function filters() {
    const q = new URLSearchParams();
    for (const c of selectedValues($("hist-cameras"))) q.append("camera", c);
    for (const c of splitList($("hist-camera-text").value)) q.append("camera", c);
    for (const ty of selectedValues($("hist-types"))) q.append("type", ty);
    for (const s of selectedValues($("hist-status"))) q.append("status", s);
    for (const l of splitList($("hist-label").value)) q.append("label", l);
    const text = $("hist-q").value.trim();
    if (text) q.set("q", text);
    const since = localInputMs($("hist-since"));
    const until = localInputMs($("hist-until"));
    if (since !== null) q.set("since_ms", String(since));
    if (until !== null) q.set("until_ms", String(until));
    if ($("hist-alerts-only").checked) q.set("alerts_only", "true");
    return q;
  }

  function replaceItem(a) {
    const i = items.findIndex((x) => x.event_id === a.event_id);
    if (i >= 0) { items[i] = Object.assign({}, items[i], { state: a.state }); renderRows(); }
  }

  function row(e) {
    const tr = el("tr", "clickable");
    tr.tabIndex = 0;
    tr.dataset.eventId = e.event_id;
    const open = () => detail.open(e);
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
    const type = el("span", "badge type t-" + cssToken(e.type), typeName(e.type));
    tr.append(cell(formatTime(e.ts_ms), "time"), cell(e.camera_id, "mono"), cell(type), cell(severityBadge(e.severity)),
      cell(e.label || "–"), cell((Number(e.confidence) * 100).toFixed(0) + "%", "num"),
      cell(e.state ? statusName(e.state.status) : (e.alert ? statusName("new") : "–")),
      cell(e.state && e.state.assignee ? e.state.assignee : "–"));
    return tr;
  }

  function renderRows() {
    const headers = ["field.time", "field.camera", "field.type", "field.severity", "field.label", "field.confidence",
      "field.status", "field.assignee"].map((k) => t(k));
    const rows = items.map(row);
    if (!rows.length) {
      const tr = el("tr", "empty");
      const td = cell(query ? t("history.no_results") : t("history.hint"));
      td.colSpan = headers.length;
      tr.append(td);
      rows.push(tr);
    }
    $("hist-results").replaceChildren(table(headers, rows));
    $("hist-more").hidden = !nextCursor;
    $("hist-summary").textContent = total === null ? "" : t("history.summary", { shown: items.length, total });
    const chips = buckets.map((b) => el("span", "chip", typeName(b.key) + " " + Number(b.count).toLocaleString()));
    $("hist-buckets").replaceChildren(...chips);
  }

  async function search(more) {
    const mine = ++seq;
    if (!more) { query = filters(); items = []; nextCursor = null; total = null; buckets = []; }
    const q = new URLSearchParams(query);
    q.set("limit", String(PAGE));
    if (more && nextCursor) q.set("cursor", nextCursor);
    $("hist-error").hidden = true;
    $("hist-search").disabled = true;
    try {
      const [page, agg] = await Promise.all([
        apiJson("/v1/events?" + q),
        more ? Promise.resolve(null) : apiJson("/v1/events/aggregates?" + new URLSearchParams([...query, ["group_by", "type"]])).catch(() => null),
      ]);
      if (mine !== seq) return;
      items = items.concat(page.items || []);
      nextCursor = page.next_cursor || null;
      total = typeof page.total === "number" ? page.total : items.length;
      if (agg && Array.isArray(agg.buckets)) buckets = agg.buckets;
      renderRows();
    } catch (err) {
      if (mine !== seq) return;
      $("hist-error").textContent = t("history.failed", { detail: err.message });
      $("hist-error").hidden = false;
    } finally {
      $("hist-search").disabled = false;
    }
  }

  async function exportAs(format) {
    const purpose = await askPurpose("purpose.export_title");
    if (!purpose) return;
    const q = new URLSearchParams(query || filters());
    q.set("format", format);
    q.set("purpose", purpose);
    try {
      const res = await api("/v1/events/export?" + q, { headers: { Accept: "*/*" } });
      if (!res.ok) throw await errorOf(res);
      const blob = await res.blob();
      const match = /filename="?([^";]+)"?/.exec(res.headers.get("Content-Disposition") || "");
      const link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = match ? match[1] : "events." + format;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      announce(t("history.exported", { name: link.download }), "ok");
    } catch (err) {
      announce(t("history.export_failed", { detail: err.message }), "error");
    }
  }

  async function loadTypes() {
    try {
      const types = await apiJson("/v1/event-types");
      const select = $("hist-types");
      const chosen = new Set(selectedValues(select));
      select.replaceChildren(...(Array.isArray(types) ? types : []).map((ty) => option(ty.type, typeName(ty.type), chosen.has(ty.type))));
    } catch { /* types stay as they are */ }
  }

  function syncCameras(ids) {
    const select = $("hist-cameras");
    const chosen = new Set(selectedValues(select));
    select.replaceChildren(...ids.map((id) => option(id, id, chosen.has(id))));
    $("hist-camera-text-field").hidden = true;
    select.parentElement.hidden = false;
  }

  function fillStatuses() {
    const select = $("hist-status");
    const chosen = new Set(selectedValues(select));
    select.replaceChildren(...STATUSES.map((s) => option(s, statusName(s), chosen.has(s))));
  }

  $("hist-form").addEventListener("submit", (ev) => { ev.preventDefault(); search(false); });
  $("hist-more").addEventListener("click", () => search(true));
  $("hist-export-csv").addEventListener("click", () => exportAs("csv"));
  $("hist-export-parquet").addEventListener("click", () => exportAs("parquet"));
  onLangChange(() => { fillStatuses(); loadTypes(); renderRows(); detail.rerender(); });

  return {
    start() {
      $("hist-exports").hidden = !ctx.can("exports");
      if (!ctx.can("cameras:read")) {
        $("hist-cameras").parentElement.hidden = true;
        $("hist-camera-text-field").hidden = false;
      }
      fillStatuses();
      loadTypes();
      renderRows();
    },
    stop() {
      items = []; total = null; nextCursor = null; buckets = []; query = null;
      detail.close();
      $("hist-results").replaceChildren();
    },
    show() { if (!query) search(false); },
    hide() {},
    syncCameras,
  };
}

