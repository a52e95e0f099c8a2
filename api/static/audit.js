// The audit trail for auditors: filters, cursor paging and the hash-chain verification.
import { apiJson } from "./session.js";
import { $, el, cell, table, splitList, localInputMs } from "./dom.js";
import { t, tOr, humanize, formatTime, onLangChange } from "./i18n.js";

const PAGE = 100;

export function createAudit() {
  let items = [];
  let nextCursor = null;
  let query = null;
  let verdict = null; // the last verify answer
  let seq = 0;

  function filters() {
    const q = new URLSearchParams();
    const actor = $("audit-actor").value.trim();
    if (actor) q.set("actor", actor);
    for (const a of splitList($("audit-action").value)) q.append("action", a);
    const target = $("audit-target").value.trim();
    if (target) q.set("target", target);
    if ($("audit-outcome").value) q.set("outcome", $("audit-outcome").value);
    const since = localInputMs($("audit-since"));
    const until = localInputMs($("audit-until"));
    if (since !== null) q.set("since_ms", String(since));
    if (until !== null) q.set("until_ms", String(until));
    return q;
  }

  function render() {
    const headers = ["audit.seq", "field.time", "audit.actor", "audit.role", "audit.action", "audit.target",
      "audit.source", "audit.outcome", "audit.purpose", "audit.detail"].map((k) => t(k));
    const rows = items.map((r) => {
      const tr = el("tr", "outcome-" + String(r.outcome).replace(/[^a-z]/g, ""));
      tr.append(cell(r.seq, "num"), cell(formatTime(r.ts_ms), "time"), cell(r.actor, "mono"),
        cell(r.role ? tOr("role.", r.role, humanize) : "–"), cell(r.action, "mono"), cell(r.target, "mono"),
        cell(r.source, "mono"), cell(tOr("outcome.", r.outcome, humanize)), cell(r.purpose || ""), cell(r.detail || ""));
      return tr;
    });
    if (!rows.length) {
      const tr = el("tr", "empty");
      const td = cell(query ? t("audit.no_results") : "");
      td.colSpan = headers.length;
      tr.append(td);
      rows.push(tr);
    }
    $("audit-results").replaceChildren(table(headers, rows));
    $("audit-more").hidden = !nextCursor;
    renderVerdict();
  }

  function renderVerdict() {
    const box = $("audit-verdict");
    if (!verdict) { box.hidden = true; return; }
    box.hidden = false;
    if (verdict.error) {
      box.className = "message error";
      box.replaceChildren(el("span", null, t("audit.verify_failed", { detail: verdict.error })));
      return;
    }
    box.className = "message " + (verdict.ok ? "ok" : "error");
    const parts = [el("strong", null, verdict.ok ? t("audit.chain_ok", { n: verdict.rows }) : t("audit.chain_broken", { n: verdict.rows }))];
    if (Array.isArray(verdict.problems) && verdict.problems.length) {
      const list = el("ul");
      for (const p of verdict.problems) list.append(el("li", "mono", p));
      parts.push(list);
    }
    box.replaceChildren(...parts);
  }

  async function search(more) {
    const mine = ++seq;
    if (!more) { query = filters(); items = []; nextCursor = null; }
    const q = new URLSearchParams(query);
    q.set("limit", String(PAGE));
    if (more && nextCursor) q.set("cursor", nextCursor);
    $("audit-error").hidden = true;
    try {
      const page = await apiJson("/v1/audit?" + q);
      if (mine !== seq) return;
      items = items.concat(page.items || []);
      nextCursor = page.next_cursor || null;
      render();
    } catch (err) {
      if (mine !== seq) return;
      $("audit-error").textContent = t("audit.failed", { detail: err.message });
      $("audit-error").hidden = false;
    }
  }

  async function verify() {
    $("audit-verify").disabled = true;
    try {
      verdict = await apiJson("/v1/audit/verify");
    } catch (err) {
      verdict = { error: err.message };
    } finally {
      $("audit-verify").disabled = false;
    }
    renderVerdict();
  }

  $("audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); search(false); });
  $("audit-more").addEventListener("click", () => search(true));
  $("audit-verify").addEventListener("click", verify);
  onLangChange(render);

  return {
    start() { render(); },
    stop() { items = []; nextCursor = null; query = null; verdict = null; $("audit-results").replaceChildren(); },
    show() { if (!query) search(false); },
    hide() {},
  };
}
