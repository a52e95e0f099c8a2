// Users and API keys, for admins: list, add, change role, disable / enable; keys shown once, revoke.
import { apiJson, postJson } from "./session.js";
import { $, el, button, cell, table, option, splitList, announce } from "./dom.js";
import { t, tOr, humanize, onLangChange } from "./i18n.js";

const ROLES = ["admin", "integrator", "operator", "auditor"];
const listOf = (body) => (Array.isArray(body) ? body : (body && Array.isArray(body.items) ? body.items : []));

function scopeText(scope) {
  if (!scope || ((!scope.sites || !scope.sites.length) && (!scope.cameras || !scope.cameras.length))) return t("scope.all");
  const parts = [];
  if (scope.sites && scope.sites.length) parts.push(t("scope.sites", { list: scope.sites.join(", ") }));
  if (scope.cameras && scope.cameras.length) parts.push(t("scope.cameras", { list: scope.cameras.join(", ") }));
  return parts.join("; ");
}

function scopeOf(sitesInput, camerasInput) {
  return { sites: splitList(sitesInput.value), cameras: splitList(camerasInput.value) };
}

function roleSelect(current) {
  const select = el("select");
  for (const r of ROLES) select.append(option(r, tOr("role.", r, humanize), r === current));
  return select;
}

export function createUsers() {
  let users = [];
  let keys = [];

  async function patch(username, body) {
    try {
      await postJson("/v1/users/" + encodeURIComponent(username), body, "PATCH");
      announce(t("users.saved", { name: username }), "ok");
    } catch (err) {
      announce(t("users.failed", { detail: err.message }), "error");
    }
    load();
  }

  function userRow(u) {
    const tr = el("tr");
    const role = roleSelect(u.role);
    role.setAttribute("aria-label", t("users.role_of", { name: u.username }));
    role.addEventListener("change", () => patch(u.username, { role: role.value }));
    const toggle = button(u.disabled ? t("users.enable") : t("users.disable"),
      () => patch(u.username, { disabled: !u.disabled }), u.disabled ? "" : "danger");
    tr.append(cell(u.username, "mono"), cell(role), cell(scopeText(u.scope)),
      cell(u.disabled ? t("users.disabled") : t("users.active")), cell(toggle));
    return tr;
  }

  function keyRow(k) {
    const tr = el("tr");
    const revoke = button(t("keys.revoke"), async () => {
      try {
        await apiJson("/v1/keys/" + encodeURIComponent(k.key_id), { method: "DELETE" });
        announce(t("keys.revoked", { name: k.name }), "ok");
      } catch (err) {
        announce(t("users.failed", { detail: err.message }), "error");
      }
      load();
    }, "danger");
    tr.append(cell(k.key_id, "mono"), cell(k.name), cell(tOr("role.", k.role, humanize)), cell(scopeText(k.scope)),
      cell(k.revoked ? t("keys.is_revoked") : revoke));
    return tr;
  }

  function render() {
    $("users-table").replaceChildren(table(["users.username", "users.role", "users.scope", "users.state", "users.actions"]
      .map((k) => t(k)), users.map(userRow)));
    $("keys-table").replaceChildren(table(["keys.id", "keys.name", "users.role", "users.scope", "users.actions"]
      .map((k) => t(k)), keys.map(keyRow)));
  }

  async function load() {
    try {
      const [u, k] = await Promise.all([apiJson("/v1/users"), apiJson("/v1/keys")]);
      users = listOf(u);
      keys = listOf(k);
      $("users-error").hidden = true;
    } catch (err) {
      $("users-error").textContent = t("users.failed", { detail: err.message });
      $("users-error").hidden = false;
    }
    render();
  }

  function fillRoles(reset) {
    for (const id of ["user-role", "key-role"]) {
      const select = $(id);
      const current = !reset && select.value ? select.value : "operator";
      select.replaceChildren(...ROLES.map((r) => option(r, tOr("role.", r, humanize), r === current)));
    }
  }

  $("user-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { username: $("user-name").value.trim(), role: $("user-role").value, password: $("user-password").value,
      scope: scopeOf($("user-sites"), $("user-cameras")) };
    try {
      await postJson("/v1/users", body);
      announce(t("users.added", { name: body.username }), "ok");
      ev.target.reset();
      fillRoles(true);
    } catch (err) {
      announce(t("users.failed", { detail: err.message }), "error");
    }
    load();
  });

  $("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: $("key-name").value.trim(), role: $("key-role").value, scope: scopeOf($("key-sites"), $("key-cameras")) };
    try {
      const created = await postJson("/v1/keys", body);
      $("key-secret").value = created.api_key || "";
      $("key-shown").hidden = false;
      ev.target.reset();
      fillRoles(true);
    } catch (err) {
      announce(t("users.failed", { detail: err.message }), "error");
    }
    load();
  });
  $("key-shown-close").addEventListener("click", () => { $("key-secret").value = ""; $("key-shown").hidden = true; });
  onLangChange(() => { fillRoles(false); render(); });

  return {
    start() { fillRoles(true); },
    stop() { users = []; keys = []; $("key-secret").value = ""; $("key-shown").hidden = true; render(); },
    show() { load(); },
    hide() {},
  };
}
