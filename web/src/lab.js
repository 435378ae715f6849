// Lab page: session start, per-step Check buttons, progress.
import { postJSON, getJSON, ApiError } from './api.js';
import { startTerminal, writeClipboard } from './terminal.js';
import { showRunningLabs } from './cohorts.js';
import { initHome } from './home.js';
import { appendInlineCode } from './inlinecode.js';
import { initCodeBlocks } from './codeblocks.js';
import { TabFocus, announcer } from './tabfocus.js';
import { initLabSwitch } from './labview.js';

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
    appendInlineCode(li, item);
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

  const checks = Array.isArray(result && result.checks) ? result.checks : [];
  if (checks.length) box.appendChild(renderChecks(checks));

  // With per-check entries, each check shows its own hints (renderChecks).
  const hints = checks.length ? [] : asStrings(result && result.hints);
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

const CHECK_MARK = { pass: '✓', fail: '✗', error: '⚠', skipped: '–' };

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function findingLocation(f) {
  let loc = String(f.file || '');
  if (f.line > 0) loc += `:${f.line}`;
  if (f.line > 0 && f.column > 0) loc += `:${f.column}`;
  return loc;
}

function points(n) {
  return Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0';
}

/** One entry per check: status, points, findings, test table, build log. */
export function renderChecks(checks) {
  const ul = el('ul', 'check-list');
  for (const c of checks) {
    if (!c || typeof c !== 'object') continue;
    const status = Object.prototype.hasOwnProperty.call(CHECK_MARK, c.status) ? c.status : 'error';
    const li = el('li', `check-item check-${status}`);
    const head = el('p', 'check-head');
    head.appendChild(el('span', 'check-mark', CHECK_MARK[status]));
    head.appendChild(el('span', 'check-title', ` ${c.title || c.id || 'check'}`));
    if (Number.isFinite(c.max_points) && c.max_points > 0) {
      head.appendChild(el('span', 'check-points', ` ${points(c.points)}/${points(c.max_points)}`));
    }
    li.appendChild(head);
    const findings = Array.isArray(c.findings) ? c.findings : [];
    if (findings.length) {
      const fl = el('ul', 'findings');
      for (const f of findings) {
        const fi = el('li', 'finding');
        const loc = findingLocation(f);
        if (loc) fi.appendChild(el('code', 'finding-loc', loc));
        fi.appendChild(appendInlineCode(el('span', 'finding-msg', ' '), f.message || ''));
        if (f.rule) fi.appendChild(el('span', 'finding-rule', ` [${f.rule}]`));
        fl.appendChild(fi);
      }
      li.appendChild(fl);
    }
    const tests = Array.isArray(c.tests) ? c.tests : [];
    if (tests.length) {
      const table = el('table', 'tests');
      const head = el('tr');
      for (const h of ['', 'Test', 'Expected', 'Actual']) head.appendChild(el('th', '', h));
      table.appendChild(head);
      for (const t of tests) {
        const tr = el('tr', t.pass ? 'test-pass' : 'test-fail');
        tr.appendChild(el('td', 'test-mark', t.pass ? '✓' : '✗'));
        tr.appendChild(el('td', '', t.name || ''));
        tr.appendChild(el('td', '', t.expected || ''));
        tr.appendChild(el('td', '', t.actual || ''));
        table.appendChild(tr);
      }
      li.appendChild(table);
    }
    if (typeof c.build_log === 'string' && c.build_log) {
      const d = el('details', 'build-log');
      if (status === 'fail') d.open = true;
      d.appendChild(el('summary', '', 'Build log'));
      const pre = el('pre', '', c.build_log);
      d.appendChild(pre);
      li.appendChild(d);
      // The failing step is at the end of the log.
      requestAnimationFrame(() => { pre.scrollTop = pre.scrollHeight; });
    }
    li.appendChild(renderCheckHints(c));
    ul.appendChild(li);
  }
  return ul;
}

/**
 * A check's hints: shown once the learner asked for them, else a button
 * that asks (the server counts it; see wireCheckHints).
 */
function renderCheckHints(c) {
  const wrap = el('div', 'check-hint');
  if (c.id) wrap.dataset.check = String(c.id);
  const hints = asStrings(c.hints);
  if (hints.length) {
    wrap.appendChild(el('p', 'check-hints-label', hints.length === 1 ? 'Hint' : 'Hints'));
    wrap.appendChild(list(hints, 'check-hint-list'));
  } else if (c.hint_available === true && c.id) {
    const b = el('button', 'check-hint-btn', 'Show a hint for this check');
    b.type = 'button';
    b.dataset.check = String(c.id);
    wrap.appendChild(b);
  }
  return wrap;
}

function setHintsUsed(n) {
  const used = document.getElementById('hints-used');
  if (used && Number.isFinite(n)) used.textContent = String(n);
}

/** One listener per result box: a check's hint button asks the server. */
function wireCheckHints(box, labId, stepId) {
  if (!box) return;
  box.addEventListener('click', async (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest('.check-hint-btn') : null;
    if (!b || b.disabled) return;
    const wrap = b.closest('.check-hint');
    b.disabled = true;
    try {
      const res = await postJSON(`/api/v1/labs/${encodeURIComponent(labId)}/steps/${encodeURIComponent(stepId)}/checks/${encodeURIComponent(b.dataset.check)}/hint`, {});
      const hints = asStrings(res && res.hints);
      const label = el('p', 'check-hints-label', hints.length === 1 ? 'Hint' : 'Hints');
      const ul = list(hints, 'check-hint-list');
      wrap.replaceChildren(label, ul);
      setHintsUsed(Number(res && res.hints_used));
      ul.tabIndex = -1;
      ul.focus();
    } catch (e) {
      b.disabled = false;
      b.title = e instanceof ApiError ? e.message : 'Could not load the hint.';
    }
  });
}

/**
 * While a check runs, polls its live output (a build log) once a second
 * and shows it under the pending line. Returns a function that stops.
 */
function watchProgress(box, sessionId, stepId) {
  let stopped = false;
  let pre = null;
  const url = `/api/v1/sessions/${encodeURIComponent(sessionId)}/steps/${encodeURIComponent(stepId)}/progress`;
  const tick = async () => {
    if (stopped) return;
    try {
      const res = await getJSON(url);
      if (!stopped && res && res.running && typeof res.log === 'string' && res.log) {
        if (!pre) {
          pre = el('pre', 'build-log-live');
          box.appendChild(pre);
        }
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = res.log;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      // Progress is a nicety; the check's own answer is what counts.
    }
    if (!stopped) timer = setTimeout(tick, 1000);
  };
  let timer = setTimeout(tick, 1000);
  return () => { stopped = true; clearTimeout(timer); };
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
  const scoreEl = document.getElementById('score');
  if (scoreEl && Number.isFinite(progress.score)) scoreEl.textContent = points(progress.score);
  const maxEl = document.getElementById('score-max');
  if (maxEl && Number.isFinite(progress.max_score)) maxEl.textContent = points(progress.max_score);
  setHintsUsed(progress.hints_used);
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

  const announce = announcer(document.getElementById('a11y-announce'));
  const tabFocus = new TabFocus({ button: document.getElementById('term-tabfocus'), announce });
  const labSwitch = initLabSwitch(lab, document.getElementById('lab-switch'));
  let terminals = null;
  initCodeBlocks(lab.querySelector('.lab-instructions') || lab, {
    activeTerminal: () => (terminals && terminals.active ? terminals.views.get(terminals.active) : null),
    copy: writeClipboard,
    announce,
    beforeRun: () => labSwitch.show('terminal'),
  });

  const sessionPromise = labId
    ? postJSON(`/api/v1/labs/${encodeURIComponent(labId)}/session`, {}, { timeoutMs: 120000 })
    : Promise.reject(new ApiError('This page has no lab id.'));

  sessionPromise.then((session) => {
    lab.removeAttribute('aria-busy');
    if (!session || typeof session.id !== 'string' || !session.id) {
      throw new ApiError('The server did not return a session.');
    }
    lab.dataset.session = session.id;
    initHome(lab, session); // home.js: time left, saved home
    if (termEl) {
      terminals = startTerminal(termEl, session.id, (text, state) => setStatus(statusEl, text, state), { tabFocus });
    } else {
      setStatus(statusEl, 'connected', 'connected');
    }
  }).catch((e) => {
    lab.removeAttribute('aria-busy');
    setStatus(statusEl, e instanceof ApiError ? e.message : 'Could not start your lab.', 'error');
    // Too many labs running: show them, each with an End button.
    if (e instanceof ApiError && e.code === 'too_many_requests') showRunningLabs(statusEl);
  });

  for (const button of lab.querySelectorAll('.hint-btn')) {
    const stepId = button.dataset.step;
    const wrap = button.closest('.hints');
    const listEl = wrap && wrap.querySelector('.hint-list');
    button.addEventListener('click', async () => {
      if (button.disabled) return;
      button.disabled = true;
      try {
        const res = await postJSON(`/api/v1/labs/${encodeURIComponent(labId)}/steps/${encodeURIComponent(stepId)}/hints`, {});
        if (listEl && Array.isArray(res.hints)) {
          listEl.replaceChildren();
          for (const h of res.hints) {
            const li = document.createElement('li');
            // Server-rendered markdown, sanitized by the server's policy.
            li.innerHTML = String(h);
            listEl.appendChild(li);
          }
          initCodeBlocks(listEl, {
            activeTerminal: () => (terminals && terminals.active ? terminals.views.get(terminals.active) : null),
            copy: writeClipboard,
            announce,
            beforeRun: () => labSwitch.show('terminal'),
          });
        }
        setHintsUsed(Number(res.hints_used));
        const left = Number(res.left) || 0;
        const leftEl = button.querySelector('.hints-left');
        if (leftEl) leftEl.textContent = String(left);
        button.hidden = left <= 0;
      } catch (e) {
        button.title = e instanceof ApiError ? e.message : 'Could not load the hint.';
      } finally {
        button.disabled = false;
      }
    });
  }

  for (const button of lab.querySelectorAll('.check-btn')) {
    const stepId = button.dataset.step;
    if (!stepId) continue;
    const section = button.closest('.step');
    const box = (section && byStep(section, '.check-result', stepId)) || byStep(lab, '.check-result', stepId);
    const label = button.textContent;
    wireCheckHints(box, labId, stepId);

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
        const stopWatching = watchProgress(box, session.id, stepId);
        let res;
        try {
          res = await postJSON(
            `/api/v1/sessions/${encodeURIComponent(session.id)}/steps/${encodeURIComponent(stepId)}/check`,
            {},
            { timeoutMs: 600000 },
          );
        } finally {
          stopWatching();
        }
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
