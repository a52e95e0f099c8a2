// UI strings: every text the console shows comes from i18n.json (English and Simplified Chinese).
const STORE_KEY = "anfang.lang";
export const LANGS = ["en", "zh-CN"];
let dict = { en: {}, "zh-CN": {} };
let lang = "en";
const listeners = new Set();

function pickLanguage() {
  let saved = null;
  try { saved = localStorage.getItem(STORE_KEY); } catch { /* storage off: use the browser's */ }
  if (LANGS.includes(saved)) return saved;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const l of wanted) {
    if (/^zh\b/i.test(String(l))) return "zh-CN";
    if (/^en\b/i.test(String(l))) return "en";
  }
  return "en";
}

export async function initI18n() {
  const res = await fetch("/static/i18n.json", { cache: "no-cache" });
  dict = await res.json();
  lang = pickLanguage();
  applyI18n(document);
}

export const currentLang = () => lang;

/** The string for `key` in the current language, `{name}` replaced from `params`. */
export function t(key, params) {
  const table = dict[lang] || {};
  let text = Object.hasOwn(table, key) ? table[key] : (dict.en && dict.en[key]);
  if (text === undefined) text = key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (Object.hasOwn(params, name) ? String(params[name]) : m));
  return text;
}

/** `t(prefix + value)` when the dictionary has it, else `fallback(value)` (server values newer than us). */
export function tOr(prefix, value, fallback) {
  const key = prefix + value;
  const table = dict[lang] || {};
  if (Object.hasOwn(table, key)) return table[key];
  return fallback ? fallback(value) : String(value);
}

const ATTRS = [["i18nPlaceholder", "placeholder"], ["i18nAriaLabel", "aria-label"], ["i18nTitle", "title"]];

export function applyI18n(root) {
  document.documentElement.lang = lang;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [prop, attr] of ATTRS) {
    for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) node.setAttribute(attr, t(node.dataset[prop]));
  }
  document.title = t("app.title");
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  try { localStorage.setItem(STORE_KEY, next); } catch { /* not persisted */ }
  applyI18n(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) { listeners.add(fn); }

export function formatTime(tsMs) {
  if (typeof tsMs !== "number") return "–";
  return new Date(tsMs).toLocaleString(lang, { year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function formatAgo(tsMs) {
  const s = Math.max(0, Math.round((Date.now() - tsMs) / 1000));
  if (s < 60) return t("time.s_ago", { n: s });
  if (s < 3600) return t("time.min_ago", { n: Math.floor(s / 60) });
  if (s < 86400) return t("time.h_ago", { n: Math.floor(s / 3600) });
  return t("time.d_ago", { n: Math.floor(s / 86400) });
}

export const humanize = (v) => String(v).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
export const typeName = (type) => tOr("type.", type, humanize);
export const statusName = (status) => tOr("status.", status, humanize);
