// Roles, cohorts and "My labs": server-rendered pages whose actions are
// small JSON calls. A <form class="api-form" data-method data-endpoint>
// sends its named fields as a JSON object of strings, asks first when it
// has data-confirm, then reloads the page, goes to data-next, or does its
// data-after step.
import { requestJSON, getJSON, deleteJSON, ApiError } from './api.js';

/** The form's named fields as an object of strings. */
export function formFields(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) continue;
    out[el.name] = String(el.value);
  }
  return out;
}

function showError(form, message) {
  const err = form.querySelector('.form-error');
  if (err) {
    err.textContent = message;
    err.hidden = false;
  } else {
    window.alert(message);
  }
}

const INVITE_KEY = 'opsdojo-invite:';

/** Shows a new invite link on the cohort page, ready to copy. */
export function showInvite(url) {
  const box = document.getElementById('invite-box');
  const input = document.getElementById('invite-url');
  if (!box || !input || typeof url !== 'string' || !url) return;
  input.value = url;
  box.hidden = false;
  input.select();
}

const AFTER = {
  // The first link of a new cohort is shown on its page: kept for one
  // navigation in this tab only, never in a URL.
  'cohort-created': (res) => {
    const id = res && res.cohort && res.cohort.id;
    if (!id) return window.location.reload();
    try {
      if (res.invite && res.invite.url) sessionStorage.setItem(INVITE_KEY + id, res.invite.url);
    } catch {
      // No storage: the page offers "New link".
    }
    window.location.assign(`/cohorts/${encodeURIComponent(id)}`);
  },
  invite: (res) => {
    if (res && res.invite) showInvite(res.invite.url);
  },
};

/** Wires one api-form. */
export function initApiForm(form) {
  let busy = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const confirmText = form.dataset.confirm;
    if (confirmText && !window.confirm(confirmText)) return;
    const err = form.querySelector('.form-error');
    if (err) err.hidden = true;
    busy = true;
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const method = (form.dataset.method || 'POST').toUpperCase();
      const send = () => requestJSON(method, form.dataset.endpoint, formFields(form), { timeoutMs: 120000 });
      let res;
      try {
        res = await send();
      } catch (e) {
        // A DELETE (End) is safe to send twice: once more after a dropped
        // connection, which was seen once on a loaded machine.
        if (!(method === 'DELETE' && e instanceof ApiError && e.code === 'network')) throw e;
        res = await send();
      }
      const after = AFTER[form.dataset.after];
      if (after) {
        after(res);
      } else if (form.dataset.next) {
        window.location.assign(form.dataset.next);
        return;
      } else {
        window.location.reload();
        return;
      }
    } catch (e) {
      showError(form, e instanceof ApiError ? e.message : 'Something went wrong. Try again.');
    }
    busy = false;
    buttons.forEach((b) => { b.disabled = false; });
  });
}

async function copyText(input, done) {
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand('copy');
  }
  if (done) {
    done.hidden = false;
    setTimeout(() => { done.hidden = true; }, 2000);
  }
}

/** "42 min left", "1 h 05 min left": time left, rounded down (as the server writes it, internal/web/mylabs.go). */
export function humanLeft(ms) {
  if (!(ms > 0)) return 'ending now';
  const m = Math.floor(ms / 60000);
  if (m < 1) return 'under a minute left';
  if (m < 60) return `${m} min left`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min left`;
}

function tickTimes() {
  for (const el of document.querySelectorAll('.time-left[data-expires]')) {
    const t = Date.parse(el.dataset.expires);
    if (Number.isFinite(t)) el.textContent = humanLeft(t - Date.now());
  }
}

/**
 * When a lab cannot start because too many are running, lists the running
 * ones under the status line with an End button each; once one has ended
 * the page offers to start this lab.
 */
export async function showRunningLabs(anchor) {
  if (!anchor || document.getElementById('running-labs')) return;
  let list;
  try {
    const res = await getJSON('/api/v1/me/sessions', { timeoutMs: 15000 });
    list = Array.isArray(res && res.sessions) ? res.sessions : [];
  } catch {
    return;
  }
  const box = document.createElement('div');
  box.id = 'running-labs';
  box.className = 'running-labs';
  const p = document.createElement('p');
  p.textContent = 'Your running labs:';
  box.appendChild(p);
  const ul = document.createElement('ul');
  for (const s of list) {
    const li = document.createElement('li');
    li.dataset.session = s.id;
    const a = document.createElement('a');
    a.href = `/labs/${encodeURIComponent(s.lab)}`;
    a.textContent = s.title || s.lab;
    li.appendChild(a);
    const left = document.createElement('span');
    left.className = 'time-left';
    left.dataset.expires = s.expires_at;
    left.textContent = s.left || '';
    li.append(' ', left, ' ');
    const end = document.createElement('button');
    end.type = 'button';
    end.className = 'end-btn';
    end.textContent = 'End';
    end.addEventListener('click', async () => {
      end.disabled = true;
      try {
        await deleteJSON(`/api/v1/sessions/${encodeURIComponent(s.id)}`, { timeoutMs: 60000 });
        li.remove();
        if (!document.getElementById('start-again')) {
          const again = document.createElement('button');
          again.type = 'button';
          again.id = 'start-again';
          again.textContent = 'Start this lab now';
          again.addEventListener('click', () => window.location.reload());
          box.appendChild(again);
        }
      } catch (e) {
        end.disabled = false;
        end.title = e instanceof ApiError ? e.message : 'Could not end the lab.';
      }
    });
    li.appendChild(end);
    ul.appendChild(li);
  }
  box.appendChild(ul);
  anchor.insertAdjacentElement('afterend', box);
}

/** Keeps the cohort page's warm-seat readiness (ready of wanted) current. */
async function refreshWarmSeats(section) {
  try {
    const res = await getJSON(section.dataset.poolEndpoint);
    const pool = res && res.pool;
    if (!pool) return;
    const ready = section.querySelector('[data-pool-ready]');
    const target = section.querySelector('[data-pool-target]');
    if (ready) ready.textContent = String(pool.ready);
    if (target) target.textContent = String(pool.target);
  } catch {
    // Offline for a moment: the next tick tries again.
  }
}

/** Wires every part of these pages present on this one. */
export function initCohorts() {
  for (const form of document.querySelectorAll('form.api-form')) initApiForm(form);
  for (const btn of document.querySelectorAll('.copy-btn[data-copy]')) {
    btn.addEventListener('click', () => {
      const input = document.getElementById(btn.dataset.copy);
      if (input) copyText(input, btn.parentElement && btn.parentElement.querySelector('.copy-done'));
    });
  }
  const cohort = document.getElementById('cohort');
  if (cohort && cohort.dataset.cohort) {
    const key = INVITE_KEY + cohort.dataset.cohort;
    try {
      const url = sessionStorage.getItem(key);
      if (url) {
        sessionStorage.removeItem(key);
        showInvite(url);
      }
    } catch {
      // No storage: nothing to show.
    }
  }
  const warm = document.querySelector('#warm-seats[data-pool-endpoint]');
  if (warm) setInterval(() => refreshWarmSeats(warm), 5000);
  if (document.querySelector('.time-left[data-expires]')) {
    tickTimes();
    setInterval(tickTimes, 30000);
  }
}
