// The instructors' live board: rows re-rendered by the server arrive as
// server-sent events and replace the learner's row in place; the action
// buttons (message, extend, end, reset) call the instructor API.
import { postJSON, deleteJSON } from './api.js';

/**
 * Replaces or appends the row of a learner from server-rendered HTML.
 * @param {HTMLElement} tbody
 * @param {number} user
 * @param {string} html a <tr data-user=...> element
 * @returns {boolean} whether a row was replaced or added
 */
export function applyRow(tbody, user, html) {
  const tpl = tbody.ownerDocument.createElement('template');
  tpl.innerHTML = `<table><tbody>${html}</tbody></table>`;
  const row = tpl.content.querySelector('tr');
  if (!row || row.getAttribute('data-user') !== String(user)) return false;
  const old = tbody.querySelector(`tr[data-user="${user}"]`);
  if (old) old.replaceWith(row);
  else tbody.appendChild(row);
  return true;
}

/** @param {HTMLElement} root the <main id="board"> element */
export function initBoard(root) {
  const live = root.querySelector('#board-live');
  const status = root.querySelector('#board-status');
  const tbody = root.querySelector('#board-rows');
  const setLive = (state, text) => {
    if (!live) return;
    live.dataset.state = state;
    live.textContent = text;
  };
  let updates = 0;
  const url = root.dataset.stream;
  if (url && typeof EventSource !== 'undefined') {
    const es = new EventSource(url);
    es.addEventListener('ready', () => setLive('live', 'live'));
    es.addEventListener('row', (ev) => {
      const msg = JSON.parse(ev.data);
      if (tbody && applyRow(tbody, msg.user, msg.html)) {
        updates++;
        root.dataset.updates = String(updates);
      }
    });
    es.addEventListener('reload', () => window.location.reload());
    es.addEventListener('end', (ev) => {
      es.close();
      setLive('ended', JSON.parse(ev.data).reason || 'ended');
    });
    es.onerror = () => setLive('reconnecting', 'reconnecting…');
  }
  const say = (text) => {
    if (status) status.textContent = text;
  };
  root.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-act]') : null;
    if (!btn) return;
    const box = btn.closest('.lab-actions');
    if (!box) return;
    const { session, lab, user } = box.dataset;
    const cohort = Number(box.dataset.cohort || 0);
    const who = box.closest('tr')?.querySelector('.learner-name')?.textContent || 'the learner';
    try {
      switch (btn.dataset.act) {
        case 'message': {
          const text = window.prompt(`Message to ${who} (shown beside their terminal):`);
          if (!text) return;
          const r = await postJSON(`/api/v1/staff/sessions/${session}/message`, { text, cohort });
          say(r.terminals ? `Sent to ${who}.` : `${who} is not at their terminal; they will see it when they next open the lab.`);
          break;
        }
        case 'extend':
          await postJSON(`/api/v1/staff/sessions/${session}/extend`, { minutes: 30, cohort });
          say(`${who}'s ${lab} session has 30 more minutes.`);
          break;
        case 'end':
          if (!window.confirm(`End ${who}'s ${lab} session? Their progress is kept.`)) return;
          await postJSON(`/api/v1/staff/sessions/${session}/end`, { cohort });
          say(`Ended ${who}'s ${lab} session.`);
          break;
        case 'reset':
          if (!window.confirm(`Reset ${lab} for ${who}? This ends their session and clears their progress in ${lab} (the attempts stay on record).`)) return;
          await postJSON(`/api/v1/learners/${user}/labs/${lab}/reset`, { confirm: lab, cohort });
          say(`Reset ${lab} for ${who}.`);
          break;
        default:
      }
    } catch (err) {
      say(err instanceof Error ? err.message : String(err));
    }
  });
}

/** @param {HTMLElement} root the <main id="tokens"> element */
export function initTokens(root) {
  const form = root.querySelector('#token-form');
  const out = root.querySelector('#token-new');
  const secret = root.querySelector('#token-secret');
  const error = root.querySelector('#token-error');
  if (form) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      try {
        const t = await postJSON('/api/v1/tokens', {
          name: String(data.get('name') || ''),
          scopes: data.getAll('scopes').map(String),
          days: Number(data.get('days') || 30),
        });
        secret.textContent = t.token;
        out.hidden = false;
        error.textContent = '';
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    });
  }
  root.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-revoke]') : null;
    if (!btn) return;
    try {
      await deleteJSON(`/api/v1/tokens/${btn.dataset.revoke}`);
      window.location.reload();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  });
}
