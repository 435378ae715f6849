// Lab page: time left before an idle session expires, and the learner's
// saved home folder (restored at start, downloadable). Issue 9.
import { getJSON } from './api.js';

/**
 * "1 h 52 min", "9 min", "45 s": the time left until expiresAt.
 * @param {number} ms milliseconds left
 */
export function formatLeft(ms) {
  if (!(ms > 0)) return '0 s';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.ceil(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return `${h} h ${min % 60} min`;
}

/** "3.2 MiB" */
export function formatBytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * The sentence the lab page shows about the saved home.
 * @param {object} st the JSON of GET /api/v1/labs/:lab/home
 */
export function homeText(st) {
  if (!st || !st.enabled) return '';
  const parts = [];
  if (st.restored) {
    parts.push(st.restored.error
      ? st.restored.error + '.'
      : `Your home folder saved ${new Date(st.restored.saved_at).toLocaleString()} was restored (${st.restored.files} files).`);
  }
  if (st.saved) {
    parts.push(`Saved home: ${formatBytes(st.saved.bytes)}, ${new Date(st.saved.at).toLocaleString()}.`);
  } else {
    parts.push('Your home folder is saved when the lab session ends and restored when you start it again.');
  }
  if (st.last_attempt && st.last_attempt.reason) {
    parts.push(`The last save did not work: ${st.last_attempt.reason}.`);
  }
  return parts.join(' ');
}

/**
 * Shows the time left and the saved home once the session started.
 * @param {HTMLElement} lab the #lab element
 * @param {{id: string, expires_at: string}} session
 */
export function initHome(lab, session) {
  const box = document.getElementById('lab-home');
  if (!box) return;
  const left = box.querySelector('#session-left');
  const text = box.querySelector('#home-text');
  const saved = box.querySelector('#home-download');
  const live = box.querySelector('#home-live');
  const labId = lab.dataset.lab;
  let expires = Date.parse(session.expires_at);
  box.hidden = false;
  if (live) live.href = `/api/v1/sessions/${encodeURIComponent(session.id)}/home.tar.gz`;
  const tick = () => {
    if (left) left.textContent = formatLeft(expires - Date.now());
  };
  tick();
  setInterval(tick, 1000);
  // Activity (keystrokes, checks) moves the expiry on the server.
  setInterval(() => {
    getJSON(`/api/v1/sessions/${encodeURIComponent(session.id)}`)
      .then((s) => { if (s && s.expires_at) expires = Date.parse(s.expires_at); tick(); })
      .catch(() => {});
  }, 30000);
  getJSON(`/api/v1/labs/${encodeURIComponent(labId)}/home?session=${encodeURIComponent(session.id)}`)
    .then((st) => {
      if (text) text.textContent = homeText(st);
      if (saved) {
        saved.hidden = !(st && st.saved);
        saved.href = `/api/v1/labs/${encodeURIComponent(labId)}/home.tar.gz`;
      }
      if (live) live.hidden = !(st && st.enabled);
    })
    .catch(() => {});
}
