// xterm.js terminals of a lab session: the DOM side (pane, fit, copy/paste,
// links, search, Unicode 11 widths, font size). The websocket protocol
// (hello/seq, acks, ping, reconnect, exit and role notices) is client.js.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { binaryStringToBytes, terminalUrl } from './protocol.js';
import { TerminalConnection } from './client.js';
import { keyAction } from './keys.js';
import { loadFontSize } from './prefs.js';
import { TerminalTabs } from './tabs.js';
import { TabFocus } from './tabfocus.js';

const FONT_FAMILY = [
  'ui-monospace',
  '"Cascadia Mono"',
  '"SF Mono"',
  'Menlo',
  'Consolas',
  '"DejaVu Sans Mono"',
  '"Liberation Mono"',
  '"Noto Sans Mono"',
  'monospace',
].join(', ');

export const THEME = {
  background: '#11161d',
  foreground: '#e3e8ef',
  cursor: '#f5c542',
  cursorAccent: '#11161d',
  selectionBackground: '#3b4a60',
  black: '#1b2129',
  red: '#f2777a',
  green: '#8fd18b',
  yellow: '#f5c542',
  blue: '#6fb3f2',
  magenta: '#d49ef0',
  cyan: '#6fd6d0',
  white: '#d5dbe3',
  brightBlack: '#66717f',
  brightRed: '#ff9a9c',
  brightGreen: '#a8e6a3',
  brightYellow: '#ffd96a',
  brightBlue: '#94c8ff',
  brightMagenta: '#e6b8ff',
  brightCyan: '#93ece6',
  brightWhite: '#ffffff',
};

const SEARCH_DECORATIONS = {
  matchBackground: '#3b4a60',
  matchBorder: '#6fb3f2',
  matchOverviewRuler: '#6fb3f2',
  activeMatchBackground: '#f5c542',
  activeMatchBorder: '#f5c542',
  activeMatchColorOverviewRuler: '#f5c542',
};

const RESIZE_DEBOUNCE_MS = 50;

/** Creates an xterm.js terminal with opsdojo's options and addons. */
export function createXterm(opts = {}) {
  const term = new Terminal({
    allowProposedApi: true, // term.unicode and search decorations
    cursorBlink: !opts.readOnly,
    disableStdin: !!opts.readOnly,
    fontFamily: FONT_FAMILY,
    fontSize: opts.fontSize || loadFontSize(),
    scrollback: opts.scrollback || 5000,
    theme: THEME,
    cols: opts.cols || 80,
    rows: opts.rows || 24,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  const search = new SearchAddon();
  term.loadAddon(search);
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = '11';
  term.loadAddon(new WebLinksAddon());
  // Nothing can be typed into a read-only terminal (player, watch page):
  // Tab must not stay in it. TerminalView replaces this handler with its own.
  if (opts.readOnly) term.attachCustomKeyEventHandler((ev) => ev.key !== 'Tab');
  return { term, fit, search };
}

/** Copies text to the clipboard: the async API where allowed, else execCommand. */
export async function writeClipboard(text) {
  if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // not allowed here (insecure origin, no focus): fall back below
    }
  }
  const prev = document.activeElement;
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  if (prev && typeof prev.focus === 'function') prev.focus(); // back to the terminal
  return ok;
}

/** A small search box over a terminal (Ctrl-Shift-F). */
class SearchBox {
  constructor(pane, search, term) {
    this.search = search;
    this.term = term;
    const box = document.createElement('div');
    box.className = 'term-search';
    box.setAttribute('role', 'search');
    box.hidden = true;
    const input = document.createElement('input');
    input.type = 'text';
    input.placeholder = 'Search scrollback';
    input.setAttribute('aria-label', 'Search the terminal');
    input.spellcheck = false;
    const count = document.createElement('span');
    count.className = 'term-search-count';
    count.setAttribute('aria-live', 'polite');
    box.append(input, count);
    for (const [dir, label, title] of [['prev', '↑', 'Previous match (Shift+Enter)'], ['next', '↓', 'Next match (Enter)'], ['close', '×', 'Close search (Esc)']]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.dir = dir;
      b.textContent = label;
      b.title = title;
      b.setAttribute('aria-label', title);
      b.addEventListener('click', () => {
        if (dir === 'close') this.close();
        else this.find(dir === 'prev');
      });
      box.appendChild(b);
    }
    input.addEventListener('input', () => this.find(false, true));
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.find(ev.shiftKey);
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        this.close();
      }
    });
    search.onDidChangeResults((r) => {
      if (!input.value) count.textContent = '';
      else if (r.resultCount === 0) count.textContent = 'no matches';
      else if (r.resultIndex < 0) count.textContent = `${r.resultCount}+ matches`;
      else count.textContent = `${r.resultIndex + 1}/${r.resultCount}`;
    });
    pane.appendChild(box);
    this.box = box;
    this.input = input;
    this.count = count;
  }

  open() {
    this.box.hidden = false;
    const sel = this.term.getSelection();
    if (sel && !sel.includes('\n')) this.input.value = sel;
    this.input.focus();
    this.input.select();
    if (this.input.value) this.find(false, true);
  }

  find(previous, incremental = false) {
    const q = this.input.value;
    if (!q) {
      this.search.clearDecorations();
      this.count.textContent = '';
      return;
    }
    const opts = { incremental, decorations: SEARCH_DECORATIONS };
    const found = previous ? this.search.findPrevious(q, opts) : this.search.findNext(q, opts);
    if (!found) this.count.textContent = 'no matches';
  }

  close() {
    this.box.hidden = true;
    this.search.clearDecorations();
    this.term.focus();
  }
}

/**
 * One terminal view: an xterm.js instance in its own pane and the websocket
 * of one tab (a TerminalConnection), reconnecting by itself.
 */
export class TerminalView {
  /**
   * @param {{sessionId: string, tab?: string, watch?: boolean, parent: HTMLElement,
   *   fontSize?: number, cols?: number, rows?: number,
   *   onChange?: (view: TerminalView) => void}} opts
   */
  constructor(opts) {
    this.sessionId = opts.sessionId;
    this.tab = opts.tab || 'main';
    this.watch = !!opts.watch;
    const onChange = opts.onChange || (() => {});

    this.pane = document.createElement('div');
    this.pane.className = 'term-pane';
    this.pane.dataset.tab = this.tab;
    this.pane.id = `term-pane-${this.tab}`;
    this.pane.setAttribute('role', 'tabpanel');
    this.pane.hidden = true;
    opts.parent.appendChild(this.pane);

    const { term, fit, search } = createXterm({
      readOnly: this.watch,
      fontSize: opts.fontSize,
      cols: opts.cols,
      rows: opts.rows,
    });
    this.term = term;
    this.fitAddon = fit;
    this.searchAddon = search;
    this.opened = false;
    this.searchBox = null;
    this.pendingPaste = false;
    this.disposed = false;
    // Tab focus mode (tabfocus.js), shared by the page's terminals; always
    // on where nothing can be typed (watching).
    this.tabFocus = opts.tabFocus || (this.watch ? new TabFocus({ on: true, storage: null }) : null);

    this.conn = new TerminalConnection({
      term,
      sessionId: this.sessionId,
      watch: this.watch,
      url: (size) => terminalUrl(window.location, this.sessionId, {
        tab: this.tab,
        watch: this.watch,
        cols: this.watch ? 0 : size.cols,
        rows: this.watch ? 0 : size.rows,
      }),
      onOpen: () => this.fit(),
      onChange: () => onChange(this),
    });
    this.wire();
    this.conn.connect();
  }

  /** The current websocket (null while reconnecting). Used by tests. */
  get socket() {
    return this.conn.ws;
  }

  get state() {
    return this.conn.state;
  }

  get role() {
    return this.conn.role;
  }

  get viewers() {
    return this.conn.viewers;
  }

  /** The server's latest notice ('' when none). */
  get notice() {
    return this.conn.notice || '';
  }

  status() {
    return this.conn.status();
  }

  wire() {
    const term = this.term;
    term.onData((data) => this.conn.input(data));
    term.onBinary((data) => this.conn.input(binaryStringToBytes(data)));
    // fit() changes cols/rows only when the size really changes; tell the server.
    term.onResize(({ cols, rows }) => this.conn.resize(cols, rows));
    term.attachCustomKeyEventHandler((ev) => this.keyHandler(ev));

    let resizeTimer = null;
    this.scheduleFit = () => {
      if (resizeTimer !== null) clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        resizeTimer = null;
        this.fit();
      }, RESIZE_DEBOUNCE_MS);
    };
    this.onWindowResize = () => this.scheduleFit();
    window.addEventListener('resize', this.onWindowResize);
    if (typeof ResizeObserver === 'function') {
      this.resizeObserver = new ResizeObserver(() => this.scheduleFit());
      this.resizeObserver.observe(this.pane);
    }
    // A native paste (the browser's own Ctrl-Shift-V) makes the fallback moot.
    this.pane.addEventListener('paste', () => { this.pendingPaste = false; }, true);
    // A click resumes a terminal that waits for one (exited, replaced).
    this.pane.addEventListener('click', () => {
      if (this.conn.waiting) this.conn.resume();
    });

    this.onPageHide = () => { this.conn.leaving = true; };
    this.onPageShow = (ev) => {
      this.conn.leaving = false;
      if (ev.persisted && !this.conn.ws) this.conn.reconnectNow();
    };
    this.onOnline = () => {
      if (this.conn.retryPending()) this.conn.reconnectNow();
    };
    window.addEventListener('pagehide', this.onPageHide);
    window.addEventListener('pageshow', this.onPageShow);
    window.addEventListener('online', this.onOnline);
  }

  keyHandler(ev) {
    if (this.tabFocus && this.tabFocus.handle(ev)) return false;
    const action = keyAction(ev);
    if (!action) return true;
    if (ev.type === 'keydown') {
      if (action === 'copy') {
        ev.preventDefault();
        const text = this.term.getSelection();
        if (text) writeClipboard(text);
      } else if (action === 'paste') {
        if (this.watch) {
          ev.preventDefault();
        } else {
          // Chromium and Firefox paste on Ctrl-Shift-V by themselves (a
          // paste event xterm.js handles); read the clipboard only if not.
          this.pendingPaste = true;
          setTimeout(() => this.pasteFallback(), 80);
        }
      } else if (action === 'search') {
        ev.preventDefault();
        this.openSearch();
      }
    }
    return false; // never send these keys to the shell
  }

  async pasteFallback() {
    if (!this.pendingPaste) return;
    this.pendingPaste = false;
    if (!navigator.clipboard || typeof navigator.clipboard.readText !== 'function') return;
    try {
      const text = await navigator.clipboard.readText();
      if (text) this.term.paste(text);
    } catch {
      // permission denied: nothing to paste
    }
  }

  openSearch() {
    if (!this.searchBox) this.searchBox = new SearchBox(this.pane, this.searchAddon, this.term);
    this.searchBox.open();
  }

  /** Shows the pane (opening xterm.js on first show), fits and focuses. */
  show() {
    this.pane.hidden = false;
    if (!this.opened) {
      this.term.open(this.pane);
      this.opened = true;
      // Screen readers hear how to leave the terminal (lab.html #term-keys-help).
      if (this.term.textarea && document.getElementById('term-keys-help')) {
        this.term.textarea.setAttribute('aria-describedby', 'term-keys-help');
      }
    }
    this.fit();
    if (!this.watch) this.term.focus();
  }

  hide() {
    this.pane.hidden = true;
  }

  fit() {
    if (!this.opened || this.watch || this.pane.hidden) return;
    // fit() throws or does nothing useful while the pane is hidden/zero-sized.
    if (this.pane.clientWidth === 0 || this.pane.clientHeight === 0) return;
    try {
      this.fitAddon.fit();
    } catch {
      // ignore: a later resize will fit again
    }
  }

  setFontSize(px) {
    this.term.options.fontSize = px;
    this.fit();
  }

  /** Closes the socket for good and removes the pane. */
  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.conn.dispose();
    window.removeEventListener('resize', this.onWindowResize);
    window.removeEventListener('pagehide', this.onPageHide);
    window.removeEventListener('pageshow', this.onPageShow);
    window.removeEventListener('online', this.onOnline);
    if (this.resizeObserver) this.resizeObserver.disconnect();
    this.term.dispose();
    this.pane.remove();
  }
}

/**
 * Creates the lab page's terminals in `container` (#terminal): the tabs of
 * the session, each its own websocket and xterm.js. Called by lab.js.
 * @param {HTMLElement} container the #terminal element
 * @param {string} sessionId
 * @param {(text: string, state: string) => void} setStatus status reporter
 * @param {{tabFocus?: object}} [extra] Tab focus mode shared by the tabs
 * @returns {TerminalTabs}
 */
export function startTerminal(container, sessionId, setStatus, extra = {}) {
  const tabs = new TerminalTabs({
    sessionId,
    container,
    tabsEl: document.getElementById('term-tabs'),
    newButton: document.getElementById('term-new'),
    smallerButton: document.getElementById('term-font-smaller'),
    largerButton: document.getElementById('term-font-larger'),
    noticeEl: document.getElementById('term-notice'),
    setStatus,
    createView: (tab, opts) => new TerminalView({ sessionId, tab, parent: container, tabFocus: extra.tabFocus, ...opts }),
  });
  tabs.start();
  return tabs;
}
