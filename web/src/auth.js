// Sign-in / sign-up form and the logout button.
import { postJSON, ApiError } from './api.js';

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
    const next = form.dataset.next || '/';
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
      submitters().forEach((b) => { b.disabled = false; });
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
