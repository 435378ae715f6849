// Read-only watch page: <main id="watch" data-session="ID" data-tab="TAB">
// with #term-status and #terminal. Opens ?tab=TAB&watch=1: the learner's
// terminal, fanned out; what is typed here is never sent.
import { TerminalView } from './terminal.js';

function setStatus(el, text, state) {
  if (!el) return;
  el.textContent = text;
  if (state) el.dataset.state = state;
}

/** Wires the watch page. */
export function initWatch(main) {
  const sessionId = main.dataset.session;
  const tab = main.dataset.tab || 'main';
  const termEl = document.getElementById('terminal');
  const statusEl = document.getElementById('term-status');
  if (!sessionId || !termEl) {
    setStatus(statusEl, 'This page has no session to watch.', 'error');
    return null;
  }
  const view = new TerminalView({
    sessionId,
    tab,
    watch: true,
    parent: termEl,
    onChange: (v) => {
      const { text, state } = v.status();
      setStatus(statusEl, text, state);
    },
  });
  termEl.classList.add('has-panes');
  view.show();
  window.__opsdojoTerm = view;
  return view;
}
