// Sign-in / sign-up form and the logout button.
import { postJSON, ApiError } from './api.js';

/**
 * Where to go after signing in: the page's next path when it stays on this
 * site, else "/". The server checks it already (internal/web safeNext);
 * this is the same rule again, in case a page ever renders one unchecked.
 * Browsers drop tabs and newlines from URLs and read "\\" as "/", so any
 * whitespace, control character or backslash, before or after decoding,
 * sends the learner to "/".
 * @param {unknown} raw
 * @returns {string}
 */
export function safeNext(raw) {
  const local = (p) => typeof p === 'string' && p.length > 0 && p.length <= 2048 && p[0] === '/' &&
    p[1] !== '/' && p[1] !== '\\' &&
    !/[\u0000-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff\ufff9-\ufffb\\]/.test(p);
  if (!local(raw)) return '/';
  let decoded;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return '/';
  }
  if (!local(decoded)) return '/';
  try {
    const base = 'http://opsdojo.invalid';
    const u = new URL(raw, base);
    if (u.origin !== base) return '/';
  } catch {
    return '/';
  }
  return raw;
}

function showError(el, message) {
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
}

/** Wires <form id="auth-form" data-endpoint data-next>. */
export function initAuthForm(form) {
  const errorEl = document.getElementById('auth-error');
  const submitters = () => form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]');
  let busy = false;

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const endpoint = form.dataset.endpoint;
    const next = safeNext(form.dataset.next);
    const username = form.elements.namedItem('username');
    const password = form.elements.namedItem('password');
    if (errorEl) {
      errorEl.hidden = true;
      errorEl.textContent = '';
    }
    if (!endpoint) {
      showError(errorEl, 'This form is misconfigured (no endpoint).');
      return;
    }
    busy = true;
    form.setAttribute('aria-busy', 'true');
    submitters().forEach((b) => { b.disabled = true; });
    try {
      await postJSON(endpoint, {
        username: username ? username.value : '',
        password: password ? password.value : '',
      }, { timeoutMs: 30000 });
      window.location.assign(next);
    } catch (e) {
      showError(errorEl, e instanceof ApiError ? e.message : 'Something went wrong. Try again.');
      if (password) {
        password.value = '';
        password.focus();
      }
      busy = false;
      form.removeAttribute('aria-busy');
      // Too many failed sign-ins: the message says how long to wait, and
      // the button waits with it (at most a minute, then the server
      // answers again).
      const wait = e instanceof ApiError && e.status === 429 ? Math.min(e.retryAfter || 0, 60) : 0;
      if (wait > 0) {
        setTimeout(() => submitters().forEach((b) => { b.disabled = false; }), wait * 1000);
      } else {
        submitters().forEach((b) => { b.disabled = false; });
      }
    }
  });
}

/** Wires <button id="logout">: POST logout, then go to /login. */
export function initLogout(button) {
  button.addEventListener('click', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      await postJSON('/api/v1/auth/logout', {}, { timeoutMs: 15000 });
    } catch {
      // Signed out already or server unreachable: the login page tells which.
    }
    window.location.assign('/login');
  });
}
