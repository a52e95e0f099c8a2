// A face match judged in the alert's detail: "not this person" (the match's face becomes a negative of
// its identity; resolving the alert stays the operator's) and the audited view of a snapshot's unblurred
// original (fetched with the bearer header into a blob: URL, revoked when hidden or the detail moves on).
import { api, errorOf, postJson } from "./session.js";
import { el, button, safePath } from "./dom.js";
import { t } from "./i18n.js";
import { askPurpose } from "./dialog.js";

const FACE_MATCH = "face_match";

/** The two controls of the item shown; `rerender()` redraws the detail after a change of state. */
export function createFaceReview(ctx, rerender) {
  let eventId = null;
  let marked = false; // "not this person" stored for this item: its button is gone
  let original = null; // blob: URL of the unblurred original shown
  let busy = { mark: false, unmask: false };
  let notes = { mark: null, unmask: null }; // {kind, key, params}

  /** Forgets the item (and revokes its image): another item is opened or the detail is closed. */
  function reset(id) {
    if (original) URL.revokeObjectURL(original);
    eventId = id === undefined ? null : id;
    marked = false;
    original = null;
    busy = { mark: false, unmask: false };
    notes = { mark: null, unmask: null };
  }

  const stillShown = (id) => eventId === id;

  /** Asks for the purpose, then runs `work(purpose)` with the slot's button busy; a refusal becomes the
   *  slot's note (`failKey`, kind from `kindOf`). Nothing is shown once another item has been opened. */
  async function withPurpose(slot, titleKey, id, failKey, kindOf, work) {
    const purpose = await askPurpose(titleKey);
    if (!purpose || !stillShown(id)) return;
    busy[slot] = true;
    notes[slot] = null;
    rerender();
    try {
      if (!(await work(purpose))) return; // another item is shown now
    } catch (err) {
      if (!stillShown(id)) return;
      notes[slot] = { kind: kindOf(err), key: failKey, params: { detail: err.message } };
    }
    busy[slot] = false;
    rerender();
  }

  function markNotThisPerson(a) {
    const id = a.event_id;
    const kindOf = (err) => (err.status === 409 ? "conflict" : "error");
    return withPurpose("mark", "purpose.not_this_person_title", id, "review.mark_failed", kindOf, async (purpose) => {
      await postJson("/v1/alerts/" + encodeURIComponent(id) + "/not-this-person", { purpose });
      if (!stillShown(id)) return false;
      marked = true;
      notes.mark = { kind: "ok", key: "review.marked" };
      return true;
    });
  }

  function unmask(a) {
    const id = a.event_id;
    return withPurpose("unmask", "purpose.unmask_title", id, "unmask.failed", () => "error", async (purpose) => {
      const url = "/v1/events/" + encodeURIComponent(id) + "/snapshot/original?" + new URLSearchParams({ purpose });
      const res = await api(url, { headers: { Accept: "image/*" } });
      if (!res.ok) throw await errorOf(res);
      const objectUrl = URL.createObjectURL(await res.blob());
      if (!stillShown(id)) { URL.revokeObjectURL(objectUrl); return false; }
      if (original) URL.revokeObjectURL(original);
      original = objectUrl;
      return true;
    });
  }

  function hideOriginal() {
    if (original) URL.revokeObjectURL(original);
    original = null;
    rerender();
  }

  function note(n) {
    const box = el("div", "message " + n.kind, t(n.key, n.params));
    box.setAttribute("role", n.kind === "ok" ? "status" : "alert");
    return box;
  }

  /** "Not this person" for a face match (those who act on alerts), with its outcome. */
  function markControls(a) {
    if (a.type !== FACE_MATCH || !ctx.can("alerts:act")) return [];
    const box = el("section", "review");
    box.setAttribute("aria-label", t("review.title"));
    if (!marked) {
      const b = button(t("review.not_this_person"), () => markNotThisPerson(a));
      b.dataset.action = "not-this-person";
      b.disabled = busy.mark;
      box.append(b);
    }
    if (notes.mark) box.append(note(notes.mark));
    return [box];
  }

  /** The unblurred original of the item's snapshot (those allowed to unmask), shown or on request. */
  function unmaskControls(a) {
    if (!ctx.can("evidence:unmask") || !safePath(a.snapshot_url)) return [];
    const box = el("section", "unmask");
    box.setAttribute("aria-label", t("unmask.title"));
    if (original) {
      const frame = el("div", "thumb large original");
      const img = el("img");
      img.alt = t("unmask.alt", { camera: a.camera_id, type: a.type });
      img.src = original;
      frame.append(img);
      const hide = button(t("unmask.hide"), hideOriginal);
      hide.dataset.action = "hide-original";
      box.append(frame, hide);
    } else {
      const b = button(t("unmask.show"), () => unmask(a));
      b.dataset.action = "unmask";
      b.disabled = busy.unmask;
      box.append(b);
    }
    if (notes.unmask) box.append(note(notes.unmask));
    return [box];
  }

  return { reset, markControls, unmaskControls };
}
