// One alert (or event) in full: snapshot, fields, SOP, state, history and, for those allowed, the
// lifecycle actions. A 409 (the alert moved on, or an illegal transition) is shown and the alert reloaded.
import { apiJson, postJson } from "./session.js";
import { el, button, field, input, option, cssToken } from "./dom.js";
import { t, tOr, formatTime, typeName, statusName, humanize } from "./i18n.js";
import { thumbnail } from "./snapshots.js";
import { askPurpose } from "./dialog.js";
import { createFaceReview } from "./face_review.js";

const RESOLUTIONS = ["true_alarm", "false_alarm", "test"];
const ACTIONS_BY_STATUS = {
  new: ["acknowledge", "start", "escalate"],
  acknowledged: ["start", "escalate"],
  in_progress: ["escalate"],
  resolved: [],
};

export function severityBadge(severity) {
  return el("span", "badge sev-" + cssToken(severity), tOr("severity.", severity, humanize));
}

export function statusBadge(status) {
  return el("span", "badge status st-" + cssToken(status), statusName(status));
}

function attributeLines(attributes) {
  const box = el("dl", "attrs");
  for (const [k, v] of Object.entries(attributes || {})) {
    if (k === "type") continue;
    box.append(el("dt", null, k), el("dd", "mono", v !== null && typeof v === "object" ? JSON.stringify(v) : v));
  }
  return box;
}

/** `container` shows one item at a time; `hooks.onChange(alert)` hears of each new state. */
export function createDetail(container, ctx, hooks) {
  let current = null;
  let message = null; // {kind, text}
  let loadSeq = 0;
  let showSnapshot = false;
  let purpose = null; // the snapshot view's stated purpose (roles that must give one)
  const review = createFaceReview(ctx, () => render());

  /** Shows `item` at once, then its full record (with history); `note` is a message to keep. */
  async function open(item, note) {
    const seq = ++loadSeq;
    message = note || null;
    container.hidden = false;
    if (!current || current.event_id !== item.event_id) {
      purpose = null;
      review.reset(item.event_id);
      showSnapshot = ctx.autoSnapshots();
      current = item;
      render();
    }
    try {
      const path = item.alert === false ? "/v1/events/" : "/v1/alerts/";
      const full = await apiJson(path + encodeURIComponent(item.event_id));
      if (seq !== loadSeq) return;
      current = full;
    } catch (err) {
      if (seq !== loadSeq) return;
      message = { kind: "error", text: t("detail.load_failed", { detail: err.message }) };
    }
    render();
  }

  function close() {
    loadSeq++;
    current = null;
    review.reset();
    container.hidden = true;
    container.replaceChildren();
    if (hooks.onClose) hooks.onClose();
  }

  async function act(body, trigger) {
    const id = current.event_id;
    if (current.state && typeof current.state.version === "number") body.expected_version = current.state.version;
    if (trigger) trigger.disabled = true;
    try {
      const updated = await postJson("/v1/alerts/" + encodeURIComponent(id) + "/actions", body);
      if (hooks.onChange) hooks.onChange(updated);
      await open(updated, { kind: "ok", text: t("detail.done", { action: tOr("action.", body.action, humanize) }) });
    } catch (err) {
      const text = err.status === 409 ? t("detail.conflict", { detail: err.message })
        : err.status === 403 ? t("detail.forbidden") : t("detail.failed", { detail: err.message });
      if (current && current.event_id === id) await open(current, { kind: err.status === 409 ? "conflict" : "error", text });
      if (current && current.state && hooks.onChange) hooks.onChange(current);
    }
  }

  function fields(a) {
    const dl = el("dl", "fields");
    const row = (key, value, cls) => dl.append(el("dt", null, t(key)), el("dd", cls || null, value));
    row("field.time", formatTime(a.ts_ms));
    row("field.camera", a.camera_id, "mono");
    row("field.site", a.site_id, "mono");
    const sev = el("dd");
    sev.append(severityBadge(a.severity));
    dl.append(el("dt", null, t("field.severity")), sev);
    row("field.rule", a.rule_id || "–", "mono");
    row("field.label", a.label || "–");
    row("field.confidence", (Number(a.confidence) * 100).toFixed(0) + "%");
    row("field.track", a.track_id === null || a.track_id === undefined ? "–" : "#" + a.track_id, "mono");
    row("field.event_id", a.event_id, "mono small");
    const s = a.state;
    if (s) {
      row("field.assignee", s.assignee || "–");
      row("field.resolution", s.resolution ? tOr("resolution.", s.resolution, humanize) : "–");
      row("field.escalation", String(s.escalation_level || 0));
      row("field.updated", s.updated_by ? t("detail.updated_by", { who: s.updated_by, when: formatTime(s.updated_ts_ms) }) : "–");
    }
    return dl;
  }

  function historyList(entries) {
    const list = el("ol", "history");
    for (const h of entries) {
      const li = el("li");
      const head = el("div", "history-head");
      head.append(el("strong", null, tOr("action.", h.action, humanize)), el("span", "muted", h.actor),
        el("time", "muted", formatTime(h.ts_ms)));
      li.append(head);
      const facts = [statusName(h.status)];
      if (h.assignee) facts.push(t("detail.assigned_to", { who: h.assignee }));
      if (h.resolution) facts.push(tOr("resolution.", h.resolution, humanize));
      if (h.escalation_level) facts.push(t("detail.level", { n: h.escalation_level }));
      li.append(el("div", "muted", facts.join(" · ")));
      if (h.comment) li.append(el("p", "comment", h.comment));
      list.append(li);
    }
    if (!entries.length) list.append(el("li", "muted", t("detail.no_history")));
    return list;
  }

  function actions(a) {
    const box = el("section", "actions");
    box.setAttribute("aria-label", t("detail.actions"));
    const status = a.state ? a.state.status : "new";
    const quick = el("div", "row");
    for (const action of ACTIONS_BY_STATUS[status] || []) {
      const b = button(t("action." + action), (ev) => act({ action }, ev.currentTarget), action === "acknowledge" ? "primary" : "");
      b.dataset.action = action;
      quick.append(b);
    }
    if (quick.childElementCount) box.append(quick);
    if (status !== "resolved") {
      const who = input("text", "assignee", a.state && a.state.assignee ? a.state.assignee : "");
      who.autocomplete = "off";
      const assign = el("form", "row");
      assign.append(field(t("detail.assignee"), who), button(t("action.assign")));
      assign.lastChild.type = "submit";
      assign.lastChild.dataset.action = "assign";
      assign.addEventListener("submit", (ev) => {
        ev.preventDefault();
        if (who.value.trim()) act({ action: "assign", assignee: who.value.trim() }, ev.submitter);
      });
      const resolution = el("select");
      resolution.name = "resolution";
      for (const r of RESOLUTIONS) resolution.append(option(r, t("resolution." + r)));
      const resolve = el("form", "row");
      resolve.append(field(t("detail.resolution"), resolution), button(t("action.resolve"), null, "primary"));
      resolve.lastChild.type = "submit";
      resolve.lastChild.dataset.action = "resolve";
      resolve.addEventListener("submit", (ev) => {
        ev.preventDefault();
        act({ action: "resolve", resolution: resolution.value }, ev.submitter);
      });
      box.append(assign, resolve);
    }
    const note = el("textarea");
    note.name = "comment";
    note.rows = 2;
    note.maxLength = 2000;
    const comment = el("form", "row");
    comment.append(field(t("detail.comment"), note, "field grow"), button(t("action.comment")));
    comment.lastChild.type = "submit";
    comment.lastChild.dataset.action = "comment";
    comment.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (note.value.trim()) act({ action: "comment", comment: note.value.trim() }, ev.submitter);
    });
    box.append(comment);
    return box;
  }

  function snapshot(a) {
    if (showSnapshot) return thumbnail(a, "large", purpose);
    const b = button(t("snapshot.show"), async () => {
      const given = await askPurpose("purpose.snapshot_title");
      if (!given || !current || current.event_id !== a.event_id) return;
      purpose = given;
      showSnapshot = true;
      render();
    });
    const box = el("div", "thumb large none");
    box.append(b);
    return box;
  }

  function render() {
    if (!current) return;
    const a = current;
    const head = el("div", "detail-head");
    const title = el("h2", null, typeName(a.type));
    title.id = container.id + "-title";
    head.append(title);
    if (a.state) head.append(statusBadge(a.state.status));
    head.append(button(t("detail.close"), close, "ghost close"));
    container.setAttribute("aria-labelledby", title.id);
    const parts = [head];
    if (message) {
      const box = el("div", "message " + message.kind, message.text);
      box.setAttribute("role", message.kind === "ok" ? "status" : "alert");
      parts.push(box);
    }
    parts.push(snapshot(a), ...review.unmaskControls(a));
    // what to do first (the SOP and the actions), then the facts
    if (a.alert !== false) {
      const sop = el("section", "sop");
      sop.append(el("h3", null, t("detail.sop")), el("p", "pre", a.sop ? a.sop : t("detail.no_sop")));
      parts.push(sop);
    }
    if (a.state && ctx.can("alerts:act")) parts.push(actions(a));
    parts.push(...review.markControls(a));
    parts.push(fields(a), attributeLines(a.attributes));
    if (Array.isArray(a.history)) {
      const hist = el("section");
      hist.append(el("h3", null, t("detail.history")), historyList(a.history));
      parts.push(hist);
    }
    container.replaceChildren(...parts);
  }

  return { open, close, rerender: render, currentId: () => (current ? current.event_id : null) };
}
