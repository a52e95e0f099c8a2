// The audible and visual cue of a new alert: a short WebAudio beep (no audio file) unless muted,
// and a flash of the page title. The mute switch is kept in localStorage.
const MUTE_KEY = "anfang.mute";
const MIN_GAP_MS = 1000;

export function createCue(muteBox) {
  let audio = null;
  let lastMs = 0;
  let flashTimer = 0;
  try { muteBox.checked = localStorage.getItem(MUTE_KEY) === "1"; } catch { /* default: sound on */ }
  muteBox.addEventListener("change", () => {
    try { localStorage.setItem(MUTE_KEY, muteBox.checked ? "1" : "0"); } catch { /* not persisted */ }
  });

  function beep() {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const now = audio.currentTime;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(880, now);
      osc.frequency.setValueAtTime(660, now + 0.18);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.25, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start(now);
      osc.stop(now + 0.45);
      return true;
    } catch {
      return false; // no audio device: the visual cue still shows
    }
  }

  function flash() {
    const body = document.body;
    body.classList.remove("cue");
    void body.offsetWidth; // restart the animation
    body.classList.add("cue");
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => body.classList.remove("cue"), 1500);
  }

  return {
    alert() {
      flash();
      const body = document.body;
      body.dataset.cues = String(Number(body.dataset.cues || 0) + 1);
      const now = Date.now();
      if (muteBox.checked || now - lastMs < MIN_GAP_MS) return;
      lastMs = now;
      if (beep()) body.dataset.beeps = String(Number(body.dataset.beeps || 0) + 1);
    },
  };
}
