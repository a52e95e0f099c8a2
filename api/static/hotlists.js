// Plate hotlists: the lists, their entries (exact, fuzzy or wildcard patterns), adding and removing
// entries, creating and deleting lists (a purpose asked for each removal, kept in the audit trail).
import { apiJson, postJson } from "./session.js";
import { $, el, button, cell, table, localInputMs, announce } from "./dom.js";
import { t, tOr, humanize, formatTime, onLangChange } from "./i18n.js";
import { severityBadge } from "./detail.js";
import { askPurpose } from "./dialog.js";
import { fillSeverities, showError, totalOf, expiryText, emptyRow } from "./lists.js";

const BASE = "/v1/hotlists";
const PAGE_MAX = 500;
const listPath = (id) => BASE + "/" + encodeURIComponent(id);
const entriesPath = (id) => listPath(id) + "/entries";

export function createHotlists(ctx) {
  let lists = [];
  let counts = {}; // hotlist id -> live entries (null: unknown)
  let current = null; // the open hotlist
  let entries = [];
  let entryTotal = 0;
  let seq = 0;

  const canWrite = () => ctx.can("hotlists:write");

  function listRow(h) {
    const tr = el("tr");
    tr.dataset.id = h.id;
    const actions = el("div", "row");
    actions.append(button(t("lists.open"), () => open(h)));
    if (canWrite()) actions.append(button(t("hotlists.delete"), () => removeList(h), "danger"));
    const n = counts[h.id];
    tr.append(cell(h.name), cell(h.purpose || "–"), cell(severityBadge(h.severity)), cell(String(h.max_distance), "num"),
      cell(expiryText(h.expires_ts_ms), "time"), cell(typeof n === "number" ? String(n) : "–", "num"), cell(actions));
    return tr;
  }

  function entryRow(e) {
    const tr = el("tr");
    tr.dataset.id = e.id;
    const remove = canWrite() ? button(t("hotlists.remove"), () => removeEntry(e), "danger") : "";
    tr.append(cell(e.pattern, "mono"), cell(tOr("match.", e.match, humanize)), cell(e.note || "–"),
      cell(expiryText(e.expires_ts_ms), "time"), cell(formatTime(e.created_ts_ms), "time"), cell(remove));
    return tr;
  }

  function render() {
    const headers = ["hotlists.name", "watchlists.purpose", "field.severity", "hotlists.distance", "lists.expiry",
      "hotlists.entries", "users.actions"].map((k) => t(k));
    const rows = lists.length ? lists.map(listRow) : [emptyRow(t("hotlists.none"), headers.length)];
    $("hl-table").replaceChildren(table(headers, rows));
    $("hl-detail").hidden = !current;
    if (!current) return;
    $("hl-detail-title").textContent = t("hotlists.open_title", { name: current.name });
    $("he-summary").textContent = t("hotlists.summary", { shown: entries.length, total: entryTotal });
    const entryHeaders = ["hotlists.pattern", "hotlists.kind", "hotlists.note", "lists.expiry", "lists.created",
      "users.actions"].map((k) => t(k));
    const entryRows = entries.length ? entries.map(entryRow) : [emptyRow(t("hotlists.no_entries"), entryHeaders.length)];
    $("he-table").replaceChildren(table(entryHeaders, entryRows));
  }

  async function loadLists() {
    const mine = ++seq;
    try {
      const body = await apiJson(BASE);
      const items = Array.isArray(body && body.items) ? body.items : [];
      const sizes = await Promise.all(items.map((h) => totalOf(entriesPath(h.id))));
      if (mine !== seq) return;
      lists = items;
      counts = Object.fromEntries(items.map((h, i) => [h.id, sizes[i]]));
      if (current) current = lists.find((h) => h.id === current.id) || null;
      showError($("hl-error"), "");
    } catch (err) {
      if (mine !== seq) return;
      showError($("hl-error"), t("hotlists.failed", { detail: err.message }));
    }
    render();
  }

  async function loadEntries() {
    if (!current) return;
    const wanted = current.id;
    try {
      const page = await apiJson(entriesPath(wanted) + "?limit=" + PAGE_MAX);
      if (!current || current.id !== wanted) return;
      entries = Array.isArray(page.items) ? page.items : [];
      entryTotal = typeof page.total === "number" ? page.total : entries.length;
      counts[wanted] = entryTotal;
      showError($("hl-detail-error"), "");
    } catch (err) {
      showError($("hl-detail-error"), t("hotlists.failed", { detail: err.message }));
    }
    render();
  }

  function open(h) {
    current = h;
    entries = [];
    entryTotal = 0;
    showError($("he-form-error"), "");
    showError($("hl-detail-error"), "");
    render();
    loadEntries();
  }

  async function removeEntry(e) {
    const purpose = await askPurpose("hotlists.remove_title");
    if (!purpose || !current) return;
    try {
      await apiJson(entriesPath(current.id) + "/" + encodeURIComponent(e.id) + "?" + new URLSearchParams({ purpose }),
        { method: "DELETE" });
      entries = entries.filter((x) => x.id !== e.id);
      entryTotal = Math.max(0, entryTotal - 1);
      counts[current.id] = entryTotal;
      announce(t("hotlists.removed", { name: e.pattern }), "ok");
      showError($("hl-detail-error"), "");
      render();
    } catch (err) {
      showError($("hl-detail-error"), err.message);
    }
  }

  async function removeList(h) {
    const purpose = await askPurpose("hotlists.delete_title");
    if (!purpose) return;
    try {
      await apiJson(listPath(h.id) + "?" + new URLSearchParams({ purpose }), { method: "DELETE" });
      if (current && current.id === h.id) current = null;
      announce(t("hotlists.deleted", { name: h.name }), "ok");
    } catch (err) {
      showError($("hl-error"), err.message);
    }
    loadLists();
  }

  $("hl-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: $("hl-name").value.trim(), purpose: $("hl-purpose").value.trim(),
      severity: $("hl-severity").value, max_distance: Number($("hl-distance").value) };
    const expires = localInputMs($("hl-expiry"));
    if (expires !== null) body.expires_ts_ms = expires;
    try {
      const created = await postJson(BASE, body);
      showError($("hl-form-error"), "");
      ev.target.reset();
      announce(t("hotlists.created", { name: created.name }), "ok");
      await loadLists();
      open(lists.find((h) => h.id === created.id) || created);
    } catch (err) {
      showError($("hl-form-error"), err.message);
    }
  });

  $("he-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const entry = { pattern: $("he-pattern").value.trim(), note: $("he-note").value.trim() };
    if ($("he-match").value) entry.match = $("he-match").value;
    try {
      await postJson(entriesPath(current.id), [entry]);
      showError($("he-form-error"), "");
      ev.target.reset();
      announce(t("hotlists.added", { name: entry.pattern }), "ok");
      await loadEntries();
    } catch (err) {
      showError($("he-form-error"), err.message); // the API's words, naming the pattern
    }
  });

  $("hl-close").addEventListener("click", () => { current = null; entries = []; render(); });
  $("hl-delete").addEventListener("click", () => { if (current) removeList(current); });
  onLangChange(() => { fillSeverities($("hl-severity"), "high"); render(); });

  return {
    start() {
      const write = canWrite();
      $("hl-form").hidden = !write;
      $("he-form").hidden = !write;
      $("hl-delete").hidden = !write;
      fillSeverities($("hl-severity"), "high");
      render();
    },
    stop() {
      seq++;
      lists = []; counts = {}; current = null; entries = [];
      for (const id of ["hl-form", "he-form"]) $(id).reset();
      for (const id of ["hl-error", "hl-form-error", "hl-detail-error", "he-form-error"]) showError($(id), "");
      render();
    },
    show() { loadLists(); },
    hide() {},
  };
}
