// The console's entry point: sign-in, the screens the signed-in role may use, language and sign-out.
import { initI18n, t, tOr, humanize, setLang, currentLang, onLangChange } from "./i18n.js";
import * as session from "./session.js";
import { $ } from "./dom.js";
import { clearSnapshots } from "./snapshots.js";
import { createFeed } from "./feed.js";
import { createCameras } from "./cameras.js";
import { createHistory } from "./history.js";
import { createAudit } from "./audit.js";
import { createUsers } from "./users.js";
import { createWatchlists } from "./watchlists.js";
import { createHotlists } from "./hotlists.js";

// each screen and the permissions that open it (any one of them)
const SCREENS = {
  alerts: ["alerts:read"],
  cameras: ["cameras:read", "sensors:read"],
  history: ["events:read"],
  watchlists: ["faces:read"],
  hotlists: ["hotlists:read"],
  audit: ["audit:read"],
  users: ["users:manage"],
};
const refreshMeta = document.querySelector('meta[name="anfang-refresh-ms"]');

let me = null;
let currentView = null;
let started = [];
const ctx = {
  can: (perm) => !!me && Array.isArray(me.permissions) && me.permissions.includes(perm),
  // the API audits an operator's snapshot views as "alert handling"; every other role states a purpose
  autoSnapshots: () => !!me && me.role === "operator" && ctx.can("snapshots:read"),
  badge: (view, n) => {
    const node = $("badge-" + view);
    if (!node) return;
    node.textContent = n > 0 ? String(n) : "";
    node.hidden = n <= 0;
    document.title = (n > 0 ? "(" + n + ") " : "") + t("app.title");
  },
  refreshMs: Math.max(1000, parseInt(refreshMeta ? refreshMeta.content : "", 10) || 3000),
};
const allowed = (view) => SCREENS[view].some(ctx.can);

let modules = null;
function buildModules() {
  const feed = createFeed(ctx);
  const history = createHistory(ctx);
  const cameras = createCameras(ctx, {
    onCameras: (ids) => { feed.syncCameras(ids); history.syncCameras(ids); },
  });
  return { alerts: feed, cameras, history, watchlists: createWatchlists(ctx), hotlists: createHotlists(ctx),
    audit: createAudit(), users: createUsers() };
}

function showOnly(id) {
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== id;
}

function showView(view) {
  if (!me) return;
  if (!allowed(view)) view = defaultView();
  if (currentView && currentView !== view) modules[currentView].hide();
  currentView = view;
  showOnly("view-" + view);
  for (const b of document.querySelectorAll("#nav [data-view]")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
  modules[view].show();
}

function defaultView() {
  if (ctx.can("alerts:act")) return "alerts";
  if (ctx.can("events:read")) return "history";
  return Object.keys(SCREENS).find(allowed) || "alerts";
}

function renderWho() {
  if (!me) return;
  const scope = me.scope || {};
  const scoped = (scope.sites && scope.sites.length) || (scope.cameras && scope.cameras.length);
  $("who").textContent = me.username + " · " + tOr("role.", me.role, humanize);
  $("who").title = scoped ? [...(scope.sites || []), ...(scope.cameras || [])].join(", ") : t("scope.all");
}

async function enter() {
  try {
    me = await session.apiJson("/v1/auth/me");
  } catch (err) {
    me = null;
    if (err.status !== 401) return showSignIn(null, err.message); // server away: the session is kept
    if (session.signedIn()) await session.signOut();
    return showSignIn("signin.expired");
  }
  modules = modules || buildModules();
  document.body.classList.add("signed-in");
  $("nav").hidden = false;
  $("session-tools").hidden = false;
  for (const b of document.querySelectorAll("#nav [data-view]")) b.hidden = !allowed(b.dataset.view);
  $("conn").hidden = $("mute-switch").hidden = !allowed("alerts"); // the live feed's status and sound
  renderWho();
  started = Object.keys(SCREENS).filter(allowed);
  for (const view of started) modules[view].start();
  const wanted = location.hash.slice(1);
  showView(Object.hasOwn(SCREENS, wanted) && allowed(wanted) ? wanted : defaultView());
}

function leave() {
  for (const view of started) modules[view].stop();
  started = [];
  currentView = null;
  me = null;
  clearSnapshots();
  document.body.classList.remove("signed-in");
  $("nav").hidden = true;
  $("session-tools").hidden = true;
  $("who").textContent = "";
}

function showSignIn(messageKey, detail) {
  leave();
  showOnly("view-signin");
  const box = $("signin-error");
  box.hidden = !messageKey && !detail;
  box.textContent = messageKey ? t(messageKey, { detail: detail || "" }) : (detail ? t("signin.failed", { detail }) : "");
  if (!$("signin-form").contains(document.activeElement)) $("signin-user").focus();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const submit = $("signin-submit");
  submit.disabled = true;
  $("signin-error").hidden = true;
  try {
    await session.signIn($("signin-user").value.trim(), $("signin-pass").value);
    $("signin-pass").value = "";
    await enter();
  } catch (err) {
    const box = $("signin-error");
    box.textContent = err.status === 401 ? t("signin.wrong")
      : err.status === 429 ? t("signin.locked", { s: err.retryAfterS === null ? "?" : err.retryAfterS })
        : t("signin.failed", { detail: err.message });
    box.hidden = false;
  } finally {
    submit.disabled = false;
  }
});

$("signout").addEventListener("click", async () => {
  await session.signOut();
  showSignIn(null, null);
  history.replaceState(null, "", location.pathname);
});

for (const b of document.querySelectorAll("#nav [data-view]")) b.addEventListener("click", () => showView(b.dataset.view));
window.addEventListener("hashchange", () => { if (me) showView(location.hash.slice(1)); });
session.setExpiredHandler(() => showSignIn("signin.expired"));

$("lang").addEventListener("change", () => setLang($("lang").value));
onLangChange(() => { $("lang").value = currentLang(); renderWho(); });

async function boot() {
  await initI18n();
  $("lang").value = currentLang();
  if (session.restore()) await enter();
  else showSignIn(null, null);
  document.body.classList.add("ready");
}

boot();
