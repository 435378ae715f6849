// Lab page: session start, per-step Check buttons, progress.
import { postJSON, ApiError } from './api.js';
import { startTerminal } from './terminal.js';

const STATUS_TEXT = {
  pass: '✓ Passed',
  fail: '✗ Not yet',
  error: '⚠ The grader had a problem — not your fault',
};

function byStep(root, selector, stepId) {
  for (const el of root.querySelectorAll(selector)) {
    if (el.dataset.step === stepId) return el;
  }
  return null;
}

function setStatus(el, text, state) {
  if (!el) return;
  el.textContent = text;
  if (state) el.dataset.state = state;
}

function list(items, className) {
  const ul = document.createElement('ul');
  ul.className = className;
  for (const item of items) {
    const li = document.createElement('li');
    li.textContent = String(item);
    ul.appendChild(li);
  }
  return ul;
}

function asStrings(v) {
  return Array.isArray(v) ? v.filter((x) => x !== null && x !== undefined && String(x) !== '') : [];
}

/** Renders a check response (or an error message) into a .check-result. */
export function renderResult(box, result) {
  if (!box) return;
  const status = result && Object.prototype.hasOwnProperty.call(STATUS_TEXT, result.status) ? result.status : 'error';
  box.replaceChildren();
  box.classList.remove('result-pass', 'result-fail', 'result-error', 'result-pending');
  box.classList.add(`result-${status}`);
  box.dataset.status = status;

  const line = document.createElement('p');
  line.className = 'check-status';
  line.textContent = result && typeof result.errorMessage === 'string'
    ? `⚠ ${result.errorMessage}`
    : STATUS_TEXT[status];
  box.appendChild(line);

  const messages = asStrings(result && result.messages);
  if (messages.length) box.appendChild(list(messages, 'check-messages'));

  const hints = asStrings(result && result.hints);
  if (hints.length) {
    const wrap = document.createElement('div');
    wrap.className = 'check-hints';
    const label = document.createElement('p');
    label.className = 'check-hints-label';
    label.textContent = hints.length === 1 ? 'Hint' : 'Hints';
    wrap.appendChild(label);
    wrap.appendChild(list(hints, 'check-hint-list'));
    box.appendChild(wrap);
  }
}

function renderPending(box, text) {
  if (!box) return;
  box.replaceChildren();
  box.classList.remove('result-pass', 'result-fail', 'result-error');
  box.classList.add('result-pending');
  box.dataset.status = 'pending';
  const line = document.createElement('p');
  line.className = 'check-status';
  line.textContent = text;
  box.appendChild(line);
}

function updateProgress(progress) {
  if (!progress || typeof progress !== 'object') return;
  const passedEl = document.getElementById('progress-passed');
  const totalEl = document.getElementById('progress-total');
  if (passedEl && Number.isFinite(progress.passed)) passedEl.textContent = String(progress.passed);
  if (totalEl && Number.isFinite(progress.total)) totalEl.textContent = String(progress.total);
  const lab = document.getElementById('lab');
  if (lab && Number.isFinite(progress.passed) && Number.isFinite(progress.total)) {
    lab.classList.toggle('complete', progress.total > 0 && progress.passed >= progress.total);
  }
}

function markPassed(lab, stepId, button) {
  const section = (button && button.closest('.step')) || byStep(lab, '.step', stepId);
  if (section) section.classList.add('passed');
  const statusEl = (section && byStep(section, '.step-status', stepId)) || byStep(lab, '.step-status', stepId);
  if (statusEl) {
    statusEl.textContent = 'passed';
    statusEl.classList.add('passed');
  }
}

/** Wires <main id="lab" data-lab="ID">. */
export function initLab(lab) {
  const labId = lab.dataset.lab;
  const termEl = document.getElementById('terminal');
  const statusEl = document.getElementById('term-status');

  setStatus(statusEl, 'starting your lab…', 'starting');
  lab.setAttribute('aria-busy', 'true');

  const sessionPromise = labId
    ? postJSON(`/api/v1/labs/${encodeURIComponent(labId)}/session`, {}, { timeoutMs: 120000 })
    : Promise.reject(new ApiError('This page has no lab id.'));

  sessionPromise.then((session) => {
    lab.removeAttribute('aria-busy');
    if (!session || typeof session.id !== 'string' || !session.id) {
      throw new ApiError('The server did not return a session.');
    }
    lab.dataset.session = session.id;
    if (termEl) {
      startTerminal(termEl, session.id, (text, state) => setStatus(statusEl, text, state));
    } else {
      setStatus(statusEl, 'connected', 'connected');
    }
  }).catch((e) => {
    lab.removeAttribute('aria-busy');
    setStatus(statusEl, e instanceof ApiError ? e.message : 'Could not start your lab.', 'error');
  });

  for (const button of lab.querySelectorAll('.check-btn')) {
    const stepId = button.dataset.step;
    if (!stepId) continue;
    const section = button.closest('.step');
    const box = (section && byStep(section, '.check-result', stepId)) || byStep(lab, '.check-result', stepId);
    const label = button.textContent;

    button.addEventListener('click', async () => {
      if (button.disabled) return;
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      button.textContent = 'checking…';
      renderPending(box, 'checking…');
      try {
        let session;
        try {
          session = await sessionPromise;
        } catch (e) {
          throw new ApiError(`Your lab is not running: ${e instanceof ApiError ? e.message : 'it could not start'}`);
        }
        const res = await postJSON(
          `/api/v1/sessions/${encodeURIComponent(session.id)}/steps/${encodeURIComponent(stepId)}/check`,
          {},
          { timeoutMs: 120000 },
        );
        renderResult(box, res);
        if (res && res.status === 'pass') markPassed(lab, stepId, button);
        if (res) updateProgress(res.progress);
      } catch (e) {
        renderResult(box, {
          status: 'error',
          errorMessage: e instanceof ApiError ? e.message : 'Something went wrong. Try again.',
        });
      } finally {
        button.disabled = false;
        button.removeAttribute('aria-busy');
        button.textContent = label;
      }
    });
  }
}
