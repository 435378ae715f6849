// Terminal tabs of the lab page: "main" plus up to four more, each its own
// terminal (websocket + xterm.js). The "+" button opens one, "×" closes one
// (DELETE on the server hangs its shell up), and on load the session's
// existing terminals are reopened. Font size buttons apply to every tab.
import { getJSON, deleteJSON, ApiError } from './api.js';
import { MAIN_TAB, MAX_TABS, nextTabName, tabsFromList } from './tabnames.js';
import { loadFontSize, saveFontSize, stepFontSize } from './prefs.js';

export class TerminalTabs {
  /**
   * @param {{sessionId: string, container: HTMLElement, tabsEl: HTMLElement|null,
   *   newButton: HTMLElement|null, smallerButton: HTMLElement|null, largerButton: HTMLElement|null,
 *   noticeEl?: HTMLElement|null,
   *   setStatus: (text: string, state: string) => void,
   *   createView: (tab: string, opts: object) => any}} opts
   */
  constructor(opts) {
    this.sessionId = opts.sessionId;
    this.container = opts.container;
    this.tabsEl = opts.tabsEl;
    this.newButton = opts.newButton;
    this.smallerButton = opts.smallerButton;
    this.largerButton = opts.largerButton;
    this.noticeEl = opts.noticeEl || null;
    this.setStatus = opts.setStatus;
    this.createView = opts.createView;
    this.views = new Map(); // tab name -> view, in tab order
    this.active = null;
    this.fontSize = loadFontSize();
    this.busy = new Set(); // tabs being closed
  }

  get base() {
    return `/api/v1/sessions/${encodeURIComponent(this.sessionId)}/terminals`;
  }

  start() {
    this.container.classList.add('has-panes');
    if (this.newButton) {
      this.newButton.addEventListener('click', () => this.newTab());
    }
    if (this.smallerButton) this.smallerButton.addEventListener('click', () => this.changeFont(-1));
    if (this.largerButton) this.largerButton.addEventListener('click', () => this.changeFont(1));
    if (this.tabsEl) {
      this.tabsEl.addEventListener('keydown', (ev) => this.tabKeys(ev));
    }
    this.add(MAIN_TAB, true);
    this.restore();
    this.exposeForTests();
  }

  /** Reopens the terminals the server still has for this session. */
  async restore() {
    if (!this.tabsEl) return;
    let names;
    try {
      names = tabsFromList(await getJSON(this.base, { timeoutMs: 15000 }));
    } catch {
      return; // an older server without the list: main only
    }
    for (const name of names) {
      if (!this.views.has(name) && this.views.size < MAX_TABS) this.add(name, false);
    }
  }

  size() {
    if (!this.active) return {};
    const v = this.views.get(this.active);
    return v ? { cols: v.term.cols, rows: v.term.rows } : {};
  }

  add(name, activate) {
    const view = this.createView(name, {
      fontSize: this.fontSize,
      ...this.size(),
      onChange: (v) => this.changed(v),
    });
    this.views.set(name, view);
    this.renderTabs();
    if (activate) this.activate(name);
    return view;
  }

  newTab() {
    const name = nextTabName(this.views.keys());
    if (!name) return;
    this.add(name, true);
  }

  activate(name) {
    const view = this.views.get(name);
    if (!view) return;
    this.active = name;
    for (const [n, v] of this.views) {
      if (n !== name) v.hide();
    }
    view.show();
    this.renderTabs();
    this.changed(view);
    this.exposeForTests();
  }

  async close(name) {
    if (name === MAIN_TAB || this.busy.has(name)) return;
    const view = this.views.get(name);
    if (!view) return;
    this.busy.add(name);
    // Stop reconnecting first: the server closes the socket when the tab goes.
    view.dispose();
    this.views.delete(name);
    if (this.active === name) {
      const names = [...this.views.keys()];
      this.activate(names[names.length - 1] || MAIN_TAB);
    } else {
      this.renderTabs();
    }
    try {
      await deleteJSON(`${this.base}/${encodeURIComponent(name)}`, { timeoutMs: 15000 });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        this.setStatus(`could not close ${name} on the server: ${e instanceof ApiError ? e.message : 'error'}`, 'error');
      }
    } finally {
      this.busy.delete(name);
      this.exposeForTests();
    }
  }

  changeFont(dir) {
    this.fontSize = saveFontSize(stepFontSize(this.fontSize, dir));
    for (const v of this.views.values()) v.setFontSize(this.fontSize);
    if (this.smallerButton) this.smallerButton.title = `Smaller text (now ${this.fontSize} px)`;
    if (this.largerButton) this.largerButton.title = `Larger text (now ${this.fontSize} px)`;
  }

  changed(view) {
    if (view.tab === this.active) {
      const { text, state } = view.status();
      this.setStatus(text, state);
    }
    // A server notice is about the whole session: any tab may bring it.
    if (this.noticeEl && view.notice && this.noticeEl.textContent !== view.notice) {
      this.noticeEl.textContent = view.notice;
      this.noticeEl.hidden = false;
    }
    const btn = this.tabsEl && this.tabsEl.querySelector(`.term-tab[data-tab="${view.tab}"]`);
    if (btn) {
      btn.dataset.state = view.state;
      const watchers = btn.querySelector('.term-tab-watchers');
      if (watchers) {
        watchers.textContent = view.viewers > 0 && view.role === 'driver' ? ` 👁${view.viewers}` : '';
      }
    }
  }

  tabKeys(ev) {
    if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
    const names = [...this.views.keys()];
    const i = names.indexOf(this.active);
    const next = names[(i + (ev.key === 'ArrowRight' ? 1 : names.length - 1)) % names.length];
    ev.preventDefault();
    this.activate(next);
    const btn = this.tabsEl.querySelector(`.term-tab[data-tab="${next}"] .term-tab-btn`);
    if (btn) btn.focus();
  }

  renderTabs() {
    if (this.newButton) this.newButton.disabled = this.views.size >= MAX_TABS;
    if (!this.tabsEl) return;
    const items = [];
    for (const [name, view] of this.views) {
      const item = document.createElement('span');
      item.className = 'term-tab';
      item.dataset.tab = name;
      item.dataset.state = view.state;
      const active = name === this.active;
      if (active) item.classList.add('active');
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'term-tab-btn';
      btn.setAttribute('role', 'tab');
      btn.setAttribute('aria-selected', active ? 'true' : 'false');
      btn.setAttribute('aria-controls', view.pane.id);
      btn.tabIndex = active ? 0 : -1;
      btn.textContent = name;
      const watchers = document.createElement('span');
      watchers.className = 'term-tab-watchers';
      watchers.textContent = view.viewers > 0 && view.role === 'driver' ? ` 👁${view.viewers}` : '';
      btn.appendChild(watchers);
      btn.addEventListener('click', () => this.activate(name));
      item.appendChild(btn);
      if (name !== MAIN_TAB) {
        const x = document.createElement('button');
        x.type = 'button';
        x.className = 'term-tab-close';
        x.textContent = '×';
        x.title = `Close ${name} (ends its shell)`;
        x.setAttribute('aria-label', `Close terminal ${name}`);
        x.addEventListener('click', (ev) => {
          ev.stopPropagation();
          this.close(name);
        });
        item.appendChild(x);
      }
      items.push(item);
    }
    this.tabsEl.replaceChildren(...items);
  }

  // Tests drive the page through these (harmless: they only expose what the
  // page already holds).
  exposeForTests() {
    if (typeof window === 'undefined') return;
    window.__opsdojoTerm = this.views.get(this.active) || null;
    window.__opsdojoTerms = this;
  }
}
