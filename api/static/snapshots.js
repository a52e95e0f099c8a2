// Evidence snapshots: fetched with the bearer header (an <img src> cannot send it) and shown as
// blob: URLs, cached per URL so that re-rendering a list does not fetch (nor audit) them again.
import { api, errorOf } from "./session.js";
import { el, safePath } from "./dom.js";
import { t } from "./i18n.js";

const CACHE_MAX = 300;
// a pushed alert can arrive before the sink has stored its event: a 404 is retried a few times
const RETRY_404_MS = [300, 700, 1500, 3000];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const cache = new Map(); // url -> Promise<objectURL>

function fetchBlob(url, delayMs) {
  if (cache.has(url)) return cache.get(url);
  const pending = (async () => {
    if (delayMs) await sleep(delayMs);
    let res = await api(url, { headers: { Accept: "image/*" } });
    for (const waitMs of RETRY_404_MS) {
      if (res.status !== 404) break;
      await sleep(waitMs);
      res = await api(url, { headers: { Accept: "image/*" } });
    }
    if (!res.ok) throw await errorOf(res);
    return URL.createObjectURL(await res.blob());
  })();
  cache.set(url, pending);
  pending.catch(() => cache.delete(url));
  while (cache.size > CACHE_MAX) {
    const [oldest, p] = cache.entries().next().value;
    cache.delete(oldest);
    p.then((u) => URL.revokeObjectURL(u), () => {});
  }
  return pending;
}

export function clearSnapshots() {
  for (const p of cache.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  cache.clear();
}

/** A thumbnail box for `alert` (its snapshot_url), filled when the image arrives; `delayMs` waits
 * first (a just-pushed alert: its event is being stored). */
export function thumbnail(alert, cls, purpose, delayMs) {
  const box = el("div", "thumb " + (cls || ""));
  if (!safePath(alert.snapshot_url)) {
    box.classList.add("none");
    box.textContent = t("snapshot.none");
    return box;
  }
  let url = alert.snapshot_url;
  if (purpose) url += (url.includes("?") ? "&" : "?") + new URLSearchParams({ purpose });
  box.classList.add("loading");
  fetchBlob(url, delayMs).then((objectUrl) => {
    const img = el("img");
    img.alt = t("snapshot.alt", { camera: alert.camera_id, type: alert.type });
    img.src = objectUrl;
    box.classList.remove("loading");
    box.replaceChildren(img);
  }, (err) => {
    box.classList.remove("loading");
    box.classList.add("none", "bad");
    box.textContent = err && err.status === 404 ? t("snapshot.missing")
      : err && err.status === 409 ? t("snapshot.integrity") : t("snapshot.unavailable");
    box.title = err && err.message ? err.message : "";
  });
  return box;
}
