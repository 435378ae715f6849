// Pure helpers of the lab page's workspace: inline code in check output,
// run blocks, Tab focus mode.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { splitInlineCode } from '../src/inlinecode.js';
import { runText, typeIntoTerminal } from '../src/codeblocks.js';
import { tabFocusAction, TabFocus, TAB_FOCUS_KEY } from '../src/tabfocus.js';

describe('splitInlineCode', () => {
  test('backtick pairs become code, the rest stays text', () => {
    assert.deepEqual(splitInlineCode('Run `promtool check rules` first'), [
      { code: false, text: 'Run ' }, { code: true, text: 'promtool check rules' }, { code: false, text: ' first' },
    ]);
    assert.deepEqual(splitInlineCode('`a` and `b`'), [
      { code: true, text: 'a' }, { code: false, text: ' and ' }, { code: true, text: 'b' },
    ]);
  });
  test('HTML stays text, inside and outside code', () => {
    const parts = splitInlineCode('<img src=x onerror=alert(1)> `<script>alert(1)</script>`');
    assert.deepEqual(parts, [
      { code: false, text: '<img src=x onerror=alert(1)> ' }, { code: true, text: '<script>alert(1)</script>' },
    ]);
  });
  test('unpaired and empty backticks stay literal', () => {
    assert.deepEqual(splitInlineCode('it`s fine'), [{ code: false, text: 'it`s fine' }]);
    assert.deepEqual(splitInlineCode('a `` b `c'), [{ code: false, text: 'a `` b `c' }]);
    assert.deepEqual(splitInlineCode('`x` then `y'), [{ code: true, text: 'x' }, { code: false, text: ' then `y' }]);
  });
  test('non-strings and empty input', () => {
    assert.deepEqual(splitInlineCode(''), []);
    assert.deepEqual(splitInlineCode(null), []);
    assert.deepEqual(splitInlineCode(undefined), []);
    assert.deepEqual(splitInlineCode(42), [{ code: false, text: '42' }]);
  });
});

describe('run blocks', () => {
  test('runText drops the trailing newline and normalizes CRLF', () => {
    assert.equal(runText('git status\n'), 'git status');
    assert.equal(runText('mkdir x\r\ncd x\r\n\n'), 'mkdir x\ncd x');
    assert.equal(runText('  \n\n'), '');
    assert.equal(runText(null), '');
  });
  test('typeIntoTerminal pastes the text, then presses Enter as the user', () => {
    const calls = [];
    const term = { paste: (s) => calls.push(['paste', s]), input: (s, user) => calls.push(['input', s, user]) };
    assert.equal(typeIntoTerminal(term, 'echo hi\n'), true);
    assert.deepEqual(calls, [['paste', 'echo hi'], ['input', '\r', true]]);
    calls.length = 0;
    assert.equal(typeIntoTerminal(term, '\n'), false);
    assert.deepEqual(calls, []);
  });
});

describe('Tab focus mode', () => {
  const ev = (o) => ({ type: 'keydown', ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...o });
  test('Ctrl+Shift+M toggles; Tab leaves only while on', () => {
    assert.equal(tabFocusAction(ev({ ctrlKey: true, shiftKey: true, key: 'M', code: 'KeyM' }), false), 'toggle');
    assert.equal(tabFocusAction(ev({ ctrlKey: true, shiftKey: true, key: 'm' }), true), 'toggle');
    assert.equal(tabFocusAction(ev({ key: 'Tab', code: 'Tab' }), false), '');
    assert.equal(tabFocusAction(ev({ key: 'Tab', code: 'Tab' }), true), 'leave');
    assert.equal(tabFocusAction(ev({ key: 'Tab', code: 'Tab', shiftKey: true }), true), 'leave');
    // Ctrl+M is Enter in a terminal: it stays the shell's.
    assert.equal(tabFocusAction(ev({ ctrlKey: true, key: 'm', code: 'KeyM' }), true), '');
    assert.equal(tabFocusAction(ev({ key: 'a', code: 'KeyA' }), true), '');
    assert.equal(tabFocusAction(null, true), '');
  });
  test('TabFocus toggles, remembers and announces', () => {
    const m = new Map();
    const storage = { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, v) };
    const said = [];
    const tf = new TabFocus({ storage, announce: (s) => said.push(s) });
    assert.equal(tf.on, false);
    let prevented = false;
    assert.equal(tf.handle(ev({ ctrlKey: true, shiftKey: true, key: 'M', code: 'KeyM', preventDefault: () => { prevented = true; } })), true);
    assert.equal(tf.on, true);
    assert.equal(prevented, true);
    assert.equal(m.get(TAB_FOCUS_KEY), '1');
    assert.match(said[0], /Tab moves focus: on/);
    assert.equal(tf.handle(ev({ key: 'Tab' })), true); // not for the shell
    assert.equal(new TabFocus({ storage }).on, true); // remembered
    tf.toggle();
    assert.equal(tf.handle(ev({ key: 'Tab' })), false); // the shell's again
    assert.match(said[1], /off/);
  });
});
