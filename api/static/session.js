// The signed-in session: tokens in sessionStorage (this tab only), refreshed before they expire,
// and `api()` / `apiJson()` that send the bearer header and retry once after a refresh on 401.
const STORE_KEY = "anfang.session";
const REFRESH_LEAD = 0.8; // refresh at 80 % of the access token's life
const REFRESH_MIN_MS = 5000;

let session = null; // {access_token, refresh_token, expires_at_ms, username, role}
let timer = 0;
let refreshing = null;
let onExpired = () => {};

export class ApiError extends Error {
  constructor(status, detail, retryAfterS) {
    super(detail);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

export function setExpiredHandler(fn) { onExpired = fn; }
export const token = () => (session ? session.access_token : null);
export const signedIn = () => session !== null;

export function restore() {
  try { session = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null"); } catch { session = null; }
  if (session && typeof session.refresh_token !== "string") session = null;
  if (session) schedule();
  return session !== null;
}

function keep(body) {
  if (!body || typeof body.access_token !== "string") throw new ApiError(0, "bad token response");
  session = {
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    expires_at_ms: Date.now() + 1000 * Number(body.expires_in || 300),
    username: body.username,
    role: body.role,
  };
  try { sessionStorage.setItem(STORE_KEY, JSON.stringify(session)); } catch { /* memory only */ }
  schedule();
}

function schedule() {
  clearTimeout(timer);
  const lifeMs = session.expires_at_ms - Date.now();
  const delay = Math.max(lifeMs > 0 ? lifeMs * REFRESH_LEAD : 0, Math.min(REFRESH_MIN_MS, Math.max(lifeMs, 0)));
  timer = setTimeout(() => { refresh().catch(() => {}); }, delay);
}

function clear() {
  clearTimeout(timer);
  session = null;
  try { sessionStorage.removeItem(STORE_KEY); } catch { /* nothing kept */ }
}

async function errorOf(res) {
  const body = await res.json().catch(() => ({}));
  const d = body && body.detail;
  let text = "HTTP " + res.status;
  if (typeof d === "string") text = d;
  else if (Array.isArray(d)) text = d.map((e) => ((e.loc || []).slice(1).join(".") + ": " + e.msg)).join("; ");
  const retry = parseInt(res.headers.get("Retry-After") || "", 10);
  return new ApiError(res.status, text, Number.isFinite(retry) ? retry : null);
}

export async function signIn(username, password) {
  const res = await fetch("/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({ username, password }),
    cache: "no-store",
  });
  if (!res.ok) throw await errorOf(res);
  keep(await res.json());
}

/** A new access token from the refresh token (rotated); on failure the session ends. */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, "not signed in"));
  if (refreshing) return refreshing;
  refreshing = (async () => {
    const res = await fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
      cache: "no-store",
    });
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401 || res.status === 403 || res.status === 422) { clear(); onExpired(); }
      throw err;
    }
    keep(await res.json());
  })().finally(() => { refreshing = null; });
  return refreshing;
}

export async function signOut() {
  const current = session;
  clear();
  if (!current) return;
  await fetch("/v1/auth/logout", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + current.access_token },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
    cache: "no-store",
  }).catch(() => {});
}

/** fetch with the bearer header; a 401 refreshes the token once and retries. */
export async function api(path, options) {
  const opts = Object.assign({ cache: "no-store" }, options || {});
  const send = () => {
    const headers = new Headers(opts.headers || {});
    if (session) headers.set("Authorization", "Bearer " + session.access_token);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    return fetch(path, Object.assign({}, opts, { headers }));
  };
  if (session && session.expires_at_ms <= Date.now()) await refresh().catch(() => {});
  let res = await send();
  if (res.status === 401 && session) {
    try { await refresh(); } catch { throw new ApiError(401, "session expired"); }
    res = await send();
    if (res.status === 401) { clear(); onExpired(); }
  }
  return res;
}

export async function apiJson(path, options) {
  const res = await api(path, options);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null;
  return res.json();
}

export function postJson(path, body, method) {
  return apiJson(path, {
    method: method || "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

export { errorOf };
