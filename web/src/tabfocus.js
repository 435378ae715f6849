// Leaving the terminal with the keyboard. A terminal needs Tab (shell
// completion), so xterm.js keeps it; with "Tab moves focus" on (Ctrl+Shift+M,
// or the ⇥ button of the terminal bar) Tab and Shift+Tab move focus through
// the page instead, as in VS Code's terminal (Ctrl+M there; Ctrl+M is Enter
// in a terminal, hence the Shift). The change is announced to screen readers.

/**
 * What a key event means for Tab focus mode: 'toggle' (Ctrl+Shift+M),
 * 'leave' (Tab/Shift+Tab while the mode is on, not for the shell) or ''.
 * @param {{type?: string, key?: string, code?: string, ctrlKey?: boolean, shiftKey?: boolean, altKey?: boolean, metaKey?: boolean}} ev
 * @param {boolean} on whether Tab moves focus
 * @returns {'toggle'|'leave'|''}
 */
export function tabFocusAction(ev, on) {
  if (!ev) return '';
  if (ev.ctrlKey && ev.shiftKey && !ev.altKey && !ev.metaKey
    && (ev.code === 'KeyM' || (!ev.code && typeof ev.key === 'string' && ev.key.toLowerCase() === 'm'))) return 'toggle';
  if (on && ev.key === 'Tab' && !ev.ctrlKey && !ev.altKey && !ev.metaKey) return 'leave';
  return '';
}

export const TAB_FOCUS_KEY = 'opsdojo.tabMovesFocus';

/** The mode, shared by every terminal of a page. */
export class TabFocus {
  /**
   * @param {{button?: HTMLElement|null, announce?: (msg: string) => void, storage?: Storage|null, on?: boolean}} opts
   */
  constructor(opts = {}) {
    this.button = opts.button || null;
    this.announce = opts.announce || (() => {});
    this.storage = opts.storage === undefined ? safeStorage() : opts.storage;
    let on = !!opts.on;
    try {
      if (this.storage && this.storage.getItem(TAB_FOCUS_KEY) === '1') on = true;
    } catch { /* storage off */ }
    this.on = on;
    if (this.button) this.button.addEventListener('click', () => this.toggle());
    this.render();
  }

  toggle() {
    this.on = !this.on;
    try {
      if (this.storage) this.storage.setItem(TAB_FOCUS_KEY, this.on ? '1' : '0');
    } catch { /* storage off */ }
    this.render();
    this.announce(this.on
      ? 'Tab moves focus: on. Tab and Shift+Tab leave the terminal. Ctrl+Shift+M turns it off.'
      : 'Tab moves focus: off. Tab goes to the shell. Ctrl+Shift+M turns it on.');
  }

  render() {
    if (!this.button) return;
    this.button.setAttribute('aria-pressed', this.on ? 'true' : 'false');
    this.button.title = this.on
      ? 'Tab moves focus out of the terminal (Ctrl+Shift+M: Tab to the shell)'
      : 'Tab goes to the shell (Ctrl+Shift+M: Tab moves focus)';
  }

  /**
   * The terminal's key handler asks first: true when the key is ours and
   * must not reach the shell (the browser then moves focus on Tab).
   */
  handle(ev) {
    const action = tabFocusAction(ev, this.on);
    if (!action) return false;
    if (ev.type !== 'keydown') return true;
    if (action === 'toggle') {
      if (ev.preventDefault) ev.preventDefault();
      this.toggle();
    } else if (action === 'leave' && typeof document !== 'undefined') {
      // Move focus ourselves: the terminal's own elements (its input,
      // scroll areas) must not catch it again.
      const from = ev.target instanceof Element ? ev.target : document.activeElement;
      if (moveFocusOut(from, !!ev.shiftKey) && ev.preventDefault) ev.preventDefault();
    }
    return true;
  }
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Focuses the next (or previous) focusable element of the page outside the
 * terminal that holds `from`. Returns whether it found one.
 */
export function moveFocusOut(from, backwards) {
  const inside = from && from.closest ? from.closest('.xterm') : null;
  const all = [...document.querySelectorAll(FOCUSABLE)].filter((e) => e === from
    || ((!inside || !inside.contains(e)) && e.getClientRects().length > 0 && e.tabIndex >= 0));
  const i = all.indexOf(from);
  if (i < 0) return false;
  const next = backwards ? all[i - 1] : all[i + 1];
  if (!next) return false;
  next.focus();
  return true;
}

function safeStorage() {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null;
  } catch {
    return null;
  }
}

/** Writes a message into a polite live region (cleared first so repeats are read). */
export function announcer(el) {
  return (msg) => {
    if (!el) return;
    el.textContent = '';
    setTimeout(() => { el.textContent = msg; }, 30);
  };
}
