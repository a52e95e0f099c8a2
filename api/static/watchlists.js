// Face watchlists: the lists, their identities, enrolment from photos, erasure (with the purpose the
// audit trail keeps) and search by image. No face vector or image is ever shown (the API serves no
// vector; viewing an enrolled image is an audited action of its own, left out of this screen).
import { apiJson, postJson } from "./session.js";
import { $, el, button, cell, table, localInputMs, announce } from "./dom.js";
import { t, formatTime, onLangChange } from "./i18n.js";
import { severityBadge } from "./detail.js";
import { askPurpose } from "./dialog.js";
import { fillSeverities, showError, postForm, totalOf, expiryText, emptyRow } from "./lists.js";

const BASE = "/v1/watchlists";
const PAGE_MAX = 500;
const listPath = (id) => BASE + "/" + encodeURIComponent(id);
const identitiesPath = (id) => listPath(id) + "/identities";

export function createWatchlists(ctx) {
  let lists = [];
  let counts = {}; // watchlist id -> identities (null: unknown)
  let current = null; // the open watchlist
  let identities = [];
  let identityTotal = 0;
  let found = null; // the last search answer
  let seq = 0;

  function listRow(w) {
    const tr = el("tr");
    tr.dataset.id = w.id;
    const actions = el("div", "row");
    actions.append(button(t("lists.open"), () => open(w)));
    if (ctx.can("faces:enrol")) actions.append(button(t("watchlists.delete"), () => removeList(w), "danger"));
    const n = counts[w.id];
    tr.append(cell(w.name), cell(w.purpose), cell(Number(w.threshold).toFixed(2), "num"), cell(severityBadge(w.severity)),
      cell(expiryText(w.expires_ts_ms), "time"), cell(typeof n === "number" ? String(n) : "–", "num"), cell(actions));
    return tr;
  }

  function identityRow(i) {
    const tr = el("tr");
    tr.dataset.id = i.id;
    const eraseButton = ctx.can("faces:enrol") ? button(t("watchlists.erase"), () => erase(i), "danger") : "";
    tr.append(cell(i.name), cell(i.reference || "–", "mono"), cell(String((i.faces || []).length), "num"),
      cell(formatTime(i.created_ts_ms), "time"), cell(eraseButton));
    return tr;
  }

  function render() {
    const headers = ["watchlists.name", "watchlists.purpose", "watchlists.threshold", "field.severity", "lists.expiry",
      "watchlists.identities", "users.actions"].map((k) => t(k));
    const rows = lists.length ? lists.map(listRow) : [emptyRow(t("watchlists.none"), headers.length)];
    $("wl-table").replaceChildren(table(headers, rows));
    $("wl-detail").hidden = !current;
    if (current) {
      $("wl-detail-title").textContent = t("watchlists.open_title", { name: current.name });
      $("id-summary").textContent = t("watchlists.summary", { shown: identities.length, total: identityTotal });
      const idHeaders = ["watchlists.identity", "watchlists.reference", "watchlists.images", "lists.created",
        "users.actions"].map((k) => t(k));
      const idRows = identities.length ? identities.map(identityRow) : [emptyRow(t("watchlists.no_identities"), idHeaders.length)];
      $("id-table").replaceChildren(table(idHeaders, idRows));
    }
    renderFound();
  }

  function renderFound() {
    const box = $("fs-results");
    if (!found) { box.replaceChildren(); return; }
    const headers = ["watchlists.identity", "watchlists.reference", "watchlists.name", "watchlists.distance",
      "watchlists.within", "watchlists.events"].map((k) => t(k));
    const rows = (found.matches || []).map((m) => {
      const tr = el("tr");
      tr.dataset.id = m.identity_id;
      const events = el("ul", "plain");
      for (const e of m.events || []) {
        events.append(el("li", "mono", formatTime(e.ts_ms) + " · " + e.camera_id + " · " + e.event_id));
      }
      tr.append(cell(m.name), cell(m.reference || "–", "mono"), cell(m.watchlist_name),
        cell(Number(m.distance).toFixed(3), "num"), cell(m.within_threshold ? t("watchlists.yes") : t("watchlists.no")),
        cell((m.events || []).length ? events : "–"));
      return tr;
    });
    box.replaceChildren(table(headers, rows.length ? rows : [emptyRow(t("watchlists.no_match"), headers.length)]));
  }

  async function loadLists() {
    const mine = ++seq;
    try {
      const body = await apiJson(BASE);
      const items = Array.isArray(body && body.items) ? body.items : [];
      const sizes = await Promise.all(items.map((w) => totalOf(identitiesPath(w.id))));
      if (mine !== seq) return;
      lists = items;
      counts = Object.fromEntries(items.map((w, i) => [w.id, sizes[i]]));
      if (current) current = lists.find((w) => w.id === current.id) || null;
      showError($("wl-error"), "");
    } catch (err) {
      if (mine !== seq) return;
      showError($("wl-error"), t("watchlists.failed", { detail: err.message }));
    }
    render();
  }

  async function loadIdentities() {
    if (!current) return;
    const wanted = current.id;
    try {
      const page = await apiJson(identitiesPath(wanted) + "?limit=" + PAGE_MAX);
      if (!current || current.id !== wanted) return;
      identities = Array.isArray(page.items) ? page.items : [];
      identityTotal = typeof page.total === "number" ? page.total : identities.length;
      counts[wanted] = identityTotal;
      showError($("wl-detail-error"), "");
    } catch (err) {
      showError($("wl-detail-error"), t("watchlists.failed", { detail: err.message }));
    }
    render();
  }

  function open(w) {
    current = w;
    identities = [];
    identityTotal = 0;
    showError($("id-form-error"), "");
    showError($("wl-detail-error"), "");
    render();
    loadIdentities();
  }

  async function erase(i) {
    const purpose = await askPurpose("watchlists.erase_title");
    if (!purpose || !current) return;
    try {
      await apiJson(identitiesPath(current.id) + "/" + encodeURIComponent(i.id) + "?" + new URLSearchParams({ purpose }),
        { method: "DELETE" });
      identities = identities.filter((x) => x.id !== i.id);
      identityTotal = Math.max(0, identityTotal - 1);
      counts[current.id] = identityTotal;
      announce(t("watchlists.erased", { name: i.name }), "ok");
      showError($("wl-detail-error"), "");
      render();
    } catch (err) {
      showError($("wl-detail-error"), err.message);
    }
  }

  async function removeList(w) {
    const purpose = await askPurpose("watchlists.delete_title");
    if (!purpose) return;
    try {
      await apiJson(listPath(w.id) + "?" + new URLSearchParams({ purpose }), { method: "DELETE" });
      if (current && current.id === w.id) current = null;
      announce(t("watchlists.deleted", { name: w.name }), "ok");
    } catch (err) {
      showError($("wl-error"), err.message);
    }
    loadLists();
  }

  $("wl-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: $("wl-name").value.trim(), purpose: $("wl-purpose").value.trim(),
      threshold: Number($("wl-threshold").value), severity: $("wl-severity").value };
    const expires = localInputMs($("wl-expiry"));
    if (expires !== null) body.expires_ts_ms = expires;
    try {
      const created = await postJson(BASE, body);
      showError($("wl-form-error"), "");
      ev.target.reset();
      announce(t("watchlists.created", { name: created.name }), "ok");
      await loadLists();
      open(lists.find((w) => w.id === created.id) || created);
    } catch (err) {
      showError($("wl-form-error"), err.message);
    }
  });

  $("id-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const form = new FormData();
    form.append("name", $("id-name").value.trim());
    form.append("reference", $("id-reference").value.trim());
    form.append("purpose", $("id-purpose").value.trim());
    for (const file of $("id-images").files) form.append("images", file, file.name);
    const submit = ev.target.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const identity = await postForm(identitiesPath(current.id), form);
      showError($("id-form-error"), "");
      ev.target.reset();
      announce(t("watchlists.enrolled", { name: identity.name }), "ok");
      await loadIdentities();
    } catch (err) {
      showError($("id-form-error"), err.message); // the API's words: which image, how many faces
    } finally {
      submit.disabled = false;
    }
  });

  $("fs-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData();
    const file = $("fs-image").files[0];
    if (file) form.append("image", file, file.name);
    form.append("purpose", $("fs-purpose").value.trim());
    try {
      found = await postForm("/v1/faces/search", form);
      showError($("fs-error"), "");
    } catch (err) {
      found = null;
      showError($("fs-error"), err.message);
    }
    renderFound();
  });

  $("wl-close").addEventListener("click", () => { current = null; identities = []; render(); });
  $("wl-delete").addEventListener("click", () => { if (current) removeList(current); });
  onLangChange(() => { fillSeverities($("wl-severity"), "high"); render(); });

  return {
    start() {
      const enrol = ctx.can("faces:enrol");
      $("wl-form").hidden = !enrol;
      $("id-form").hidden = !enrol;
      $("wl-delete").hidden = !enrol;
      $("fs-form").hidden = !ctx.can("faces:search");
      fillSeverities($("wl-severity"), "high");
      render();
    },
    stop() {
      seq++;
      lists = []; counts = {}; current = null; identities = []; found = null;
      for (const id of ["wl-form", "id-form", "fs-form"]) $(id).reset();
      for (const id of ["wl-error", "wl-form-error", "wl-detail-error", "id-form-error", "fs-error"]) showError($(id), "");
      render();
    },
    show() { loadLists(); },
    hide() {},
  };
}
