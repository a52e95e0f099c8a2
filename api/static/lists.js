// What the watchlist and hotlist screens share: severities, error boxes, multipart posts, list sizes.
import { api, apiJson, errorOf } from "./session.js";
import { el, cell, option } from "./dom.js";
import { t, tOr, humanize, formatTime } from "./i18n.js";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];

/** Fills a severity <select>, keeping its choice; `fallback` is chosen at first and after a form reset. */
export function fillSeverities(select, fallback) {
  const current = select.value || fallback;
  select.replaceChildren(...SEVERITIES.map((s) => {
    const o = option(s, tOr("severity.", s, humanize));
    o.defaultSelected = s === fallback;
    return o;
  }));
  select.value = current;
}

/** Shows `text` in an error box (as text), or hides the box when `text` is empty. */
export function showError(box, text) {
  box.textContent = text || "";
  box.hidden = !text;
}

/** POST of a FormData (files): the JSON answer, or the API's refusal as an ApiError. */
export async function postForm(path, form) {
  const res = await api(path, { method: "POST", body: form });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

/** How many items a paged list holds (`total` of its first page), or null when it cannot be read. */
export async function totalOf(path) {
  try {
    const page = await apiJson(path + "?limit=1");
    return typeof page.total === "number" ? page.total : null;
  } catch {
    return null;
  }
}

export const expiryText = (ms) => (typeof ms === "number" ? formatTime(ms) : t("lists.never"));

/** The row shown in place of an empty table's rows. */
export function emptyRow(text, columns) {
  const tr = el("tr", "empty");
  const td = cell(text);
  td.colSpan = columns;
  tr.append(td);
  return tr;
}
