// Pure parts of the terminal UI (keys, font size, tab names) and the xterm.js
// addons this bundle relies on, loaded into a headless xterm.js 6.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import xterm from '@xterm/xterm';
import unicode11 from '@xterm/addon-unicode11';
import search from '@xterm/addon-search';
import { keyAction } from '../src/keys.js';
import { clampFontSize, loadFontSize, saveFontSize, stepFontSize, FONT_SIZE_KEY, FONT_SIZE_DEFAULT } from '../src/prefs.js';
import { nextTabName, tabsFromList, validTabName, MAX_TABS } from '../src/tabnames.js';

describe('keyAction', () => {
  const k = (o) => keyAction({ type: 'keydown', ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...o });
  test('Ctrl-Shift-C/V/F are copy, paste and search', () => {
    assert.equal(k({ ctrlKey: true, shiftKey: true, key: 'C', code: 'KeyC' }), 'copy');
    assert.equal(k({ ctrlKey: true, shiftKey: true, key: 'V', code: 'KeyV' }), 'paste');
    assert.equal(k({ ctrlKey: true, shiftKey: true, key: 'F', code: 'KeyF' }), 'search');
  });

  test('plain Ctrl-C, Ctrl-V and others go to the shell', () => {
    assert.equal(k({ ctrlKey: true, key: 'c', code: 'KeyC' }), '');
    assert.equal(k({ ctrlKey: true, key: 'v', code: 'KeyV' }), '');
    assert.equal(k({ shiftKey: true, key: 'C', code: 'KeyC' }), '');
    assert.equal(k({ ctrlKey: true, shiftKey: true, altKey: true, key: 'C', code: 'KeyC' }), '');
    assert.equal(k({ ctrlKey: true, shiftKey: true, key: 'X', code: 'KeyX' }), '');
    assert.equal(keyAction(null), '');
  });

  test('physical key wins over the layout (Cyrillic С on the C key)', () => {
    assert.equal(k({ ctrlKey: true, shiftKey: true, key: 'С', code: 'KeyC' }), 'copy');
    assert.equal(k({ ctrlKey: true, shiftKey: true, key: 'c' }), 'copy'); // no code
  });
});

describe('font size preference', () => {
  const store = () => {
    const m = new Map();
    return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), m };
  };

  test('clamps and rounds', () => {
    assert.equal(clampFontSize(3), 9);
    assert.equal(clampFontSize(99), 32);
    assert.equal(clampFontSize('16.4'), 16);
    assert.equal(clampFontSize('junk'), FONT_SIZE_DEFAULT);
  });

  test('persists across loads; junk and failing storage fall back', () => {
    const s = store();
    assert.equal(loadFontSize(s), FONT_SIZE_DEFAULT);
    assert.equal(saveFontSize(18, s), 18);
    assert.equal(s.m.get(FONT_SIZE_KEY), '18');
    assert.equal(loadFontSize(s), 18);
    s.setItem(FONT_SIZE_KEY, 'x');
    assert.equal(loadFontSize(s), FONT_SIZE_DEFAULT);
    const broken = { getItem() { throw new Error('blocked'); }, setItem() { throw new Error('full'); } };
    assert.equal(loadFontSize(broken), FONT_SIZE_DEFAULT);
    assert.equal(saveFontSize(20, broken), 20);
    assert.equal(loadFontSize(null), FONT_SIZE_DEFAULT);
  });

  test('steps by 1 px, 2 px from 20 px, within bounds', () => {
    assert.equal(stepFontSize(15, 1), 16);
    assert.equal(stepFontSize(15, -1), 14);
    assert.equal(stepFontSize(20, 1), 22);
    assert.equal(stepFontSize(9, -1), 9);
    assert.equal(stepFontSize(32, 1), 32);
  });
});

describe('tab names', () => {
  test('new tabs are the lowest free t2..; none past 5', () => {
    assert.equal(nextTabName(['main']), 't2');
    assert.equal(nextTabName(['main', 't2', 't3']), 't4');
    assert.equal(nextTabName(['main', 't3']), 't2');
    assert.equal(nextTabName(['main', 't2', 't3', 't4', 't5']), null);
    assert.equal(MAX_TABS, 5);
  });

  test('valid names: letters, digits, -', () => {
    assert.ok(validTabName('t2'));
    assert.ok(validTabName('build-1'));
    assert.ok(!validTabName(''));
    assert.ok(!validTabName('a b'));
    assert.ok(!validTabName('<x>'));
    assert.ok(!validTabName(3));
  });

  test('the terminals list in its likely shapes', () => {
    assert.deepEqual(tabsFromList(['main', 't2']), ['main', 't2']);
    assert.deepEqual(tabsFromList({ terminals: [{ tab: 't3' }, { tab: 'main' }] }), ['main', 't3']);
    assert.deepEqual(tabsFromList({ tabs: [{ name: 't2' }] }), ['main', 't2']);
    assert.deepEqual(tabsFromList({ terminals: [{ tab: 'bad name' }, { tab: 't2' }, { tab: 't2' }] }), ['main', 't2']);
    assert.deepEqual(tabsFromList(['t2', 't3', 't4', 't5', 't6', 't7']), ['main', 't2', 't3', 't4', 't5']);
    assert.deepEqual(tabsFromList(null), ['main']);
    assert.deepEqual(tabsFromList({}), ['main']);
  });
});

describe('xterm.js 6 with the addons', () => {
  const write = (t, d) => new Promise((r) => t.write(d, r));

  test('Unicode 11 widths: emoji take two cells', async () => {
    const t = new xterm.Terminal({ allowProposedApi: true, cols: 20, rows: 3 });
    t.loadAddon(new unicode11.Unicode11Addon());
    t.unicode.activeVersion = '11';
    assert.equal(t.unicode.activeVersion, '11');
    await write(t, '😀x🧪y');
    const line = t.buffer.active.getLine(0);
    assert.equal(line.getCell(0).getWidth(), 2);
    assert.equal(line.getCell(2).getChars(), 'x');
    assert.equal(line.getCell(3).getWidth(), 2); // 🧪 (Unicode 11) is wide too
    assert.equal(line.getCell(5).getChars(), 'y');
  });

  test('the search and Unicode 11 addons load into xterm.js 6', () => {
    // (Searching needs a rendered terminal: the browser test covers it.)
    const t = new xterm.Terminal({ allowProposedApi: true });
    const s = new search.SearchAddon();
    t.loadAddon(s);
    assert.equal(typeof s.findNext, 'function');
    assert.equal(typeof s.onDidChangeResults, 'function');
    t.dispose();
  });
});

describe('server notices on the lab page', () => {
  test('a notice from any tab is shown above the terminals, once', async () => {
    const { TerminalTabs } = await import('../src/tabs.js');
    const noticeEl = { textContent: '', hidden: true };
    const statuses = [];
    const tabs = new TerminalTabs({
      sessionId: 's1', container: null, tabsEl: null, noticeEl,
      setStatus: (text, state) => statuses.push([text, state]),
      createView: () => null,
    });
    tabs.active = 'main';
    const view = (tab, notice) => ({ tab, notice, state: 'connected', status: () => ({ text: 'connected', state: 'connected' }) });
    tabs.changed(view('main', ''));
    assert.equal(noticeEl.hidden, true, 'no notice: nothing shown');
    tabs.changed(view('t2', 'This lab has written 34 MiB of its 40 MiB disk quota.'));
    assert.equal(noticeEl.hidden, false);
    assert.equal(noticeEl.textContent, 'This lab has written 34 MiB of its 40 MiB disk quota.');
    assert.deepEqual(statuses, [['connected', 'connected']], 'a background tab does not take the status line');
  });
});
