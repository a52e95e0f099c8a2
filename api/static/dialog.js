// The purpose prompt (exports and snapshot views touch personal data: the audit trail keeps why).
import { $ } from "./dom.js";
import { t } from "./i18n.js";

/** Resolves to the purpose typed (trimmed, non-empty) or null when cancelled. */
export function askPurpose(titleKey) {
  const dialog = $("purpose-dialog");
  const form = $("purpose-form");
  const text = $("purpose-text");
  $("purpose-title").textContent = t(titleKey);
  text.value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", submit);
      $("purpose-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const submit = (ev) => {
      ev.preventDefault();
      const value = text.value.trim();
      if (!value) { text.setAttribute("aria-invalid", "true"); text.focus(); return; }
      text.removeAttribute("aria-invalid");
      done(value);
    };
    const cancel = (ev) => { if (ev) ev.preventDefault(); done(null); };
    form.addEventListener("submit", submit);
    $("purpose-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    dialog.showModal();
    text.focus();
  });
}
