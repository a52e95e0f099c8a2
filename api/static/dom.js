// Small DOM helpers. Server strings only ever reach the page through textContent / attributes.
export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function button(label, onClick, cls) {
  const b = el("button", cls || "", label);
  b.type = "button";
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

/** A <label> wrapping a caption and a control (accessible name without ids). */
export function field(caption, control, cls) {
  const label = el("label", cls || "field");
  label.append(el("span", "caption", caption), control);
  return label;
}

export function input(type, name, value) {
  const node = el("input");
  node.type = type;
  if (name) node.name = name;
  if (value !== undefined && value !== null) node.value = String(value);
  return node;
}

export function option(value, text, selected) {
  const o = el("option", null, text);
  o.value = value;
  if (selected) o.selected = true;
  return o;
}

export const cssToken = (v) => String(v).toLowerCase().replace(/[^a-z0-9_]/g, "");
export const safePath = (u) => typeof u === "string" && u.startsWith("/") && !u.startsWith("//");

/** Comma- or space-separated values of a text input, blanks dropped. */
export const splitList = (text) => String(text || "").split(/[\s,]+/).filter(Boolean);

/** The values chosen in a <select multiple>. */
export const selectedValues = (select) => Array.from(select.selectedOptions, (o) => o.value).filter(Boolean);

/** A datetime-local input's value as UTC epoch ms (null when empty or invalid). */
export function localInputMs(node) {
  if (!node.value) return null;
  const ms = new Date(node.value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

export function announce(text, kind) {
  const box = $("toast");
  box.textContent = text;
  box.className = "toast show " + (kind || "info");
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { box.className = "toast"; }, 6000);
}

/** Replaces a container's children with a table of `rows` under `headers` (all text). */
export function table(headers, rows, cls) {
  const tbl = el("table", cls || "grid");
  const head = el("thead");
  const tr = el("tr");
  for (const h of headers) {
    const th = el("th", null, h);
    th.scope = "col";
    tr.append(th);
  }
  head.append(tr);
  const body = el("tbody");
  body.append(...rows);
  tbl.append(head, body);
  return tbl;
}

export function cell(content, cls) {
  const td = el("td", cls || null);
  if (content instanceof Node) td.append(content);
  else if (content !== undefined && content !== null) td.textContent = String(content);
  return td;
}
