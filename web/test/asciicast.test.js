import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseAsciicast, parseSize, timeline, clampSpeed, formatClock, Playback } from '../src/asciicast.js';

const cast = [
  JSON.stringify({ version: 2, width: 100, height: 30, timestamp: 1700000000, title: 'git-basics' }),
  JSON.stringify([0.5, 'o', '$ ']),
  JSON.stringify([1.0, 'o', 'ls\r\n']),
  JSON.stringify([1.2, 'i', 'ignored input']),
  JSON.stringify([1.5, 'r', '120x40']),
  JSON.stringify([11.5, 'o', 'after a long pause']),
  JSON.stringify([12.0, 'm', 'marker']),
  JSON.stringify([12.25, 'o', 'é😀']),
].join('\n') + '\n';

describe('parseAsciicast', () => {
  test('header and output/resize events; input and markers skipped', () => {
    const { header, events, skipped } = parseAsciicast(cast);
    assert.equal(header.width, 100);
    assert.equal(header.height, 30);
    assert.equal(header.title, 'git-basics');
    assert.deepEqual(events.map((e) => [e.t, e.code, e.data]), [
      [0.5, 'o', '$ '],
      [1.0, 'o', 'ls\r\n'],
      [1.5, 'r', '120x40'],
      [11.5, 'o', 'after a long pause'],
      [12.25, 'o', 'é😀'],
    ]);
    assert.equal(skipped, 0);
  });

  test('a line cut by the size cap and junk lines are skipped, not fatal', () => {
    const text = `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n[0.1,"o","a"]\n{"x":1}\n[0.2,"r","bad"]\n[0.3,"o","b"]\n[0.4,"o","trunc`;
    const { events, skipped } = parseAsciicast(text);
    assert.deepEqual(events.map((e) => e.data), ['a', 'b']);
    assert.equal(skipped, 3);
  });

  test('times never go backwards; missing sizes default to 80x24', () => {
    const text = `${JSON.stringify({ version: 2 })}\n[2,"o","a"]\n[1,"o","b"]\n`;
    const { header, events } = parseAsciicast(text);
    assert.deepEqual([header.width, header.height], [80, 24]);
    assert.deepEqual(events.map((e) => e.t), [2, 2]);
  });

  test('rejects what is not asciicast v2', () => {
    assert.throws(() => parseAsciicast(''), /no header/);
    assert.throws(() => parseAsciicast('<html>'), /no header/);
    assert.throws(() => parseAsciicast('{"version":1,"width":80}'), /v2/);
    assert.throws(() => parseAsciicast('[1,"o","x"]'), /v2/);
  });
});

describe('helpers', () => {
  test('parseSize', () => {
    assert.deepEqual(parseSize('120x40'), { cols: 120, rows: 40 });
    assert.equal(parseSize('0x40'), null);
    assert.equal(parseSize('120X40'), null);
    assert.equal(parseSize('5000x40'), null);
  });

  test('timeline caps idle gaps at 2 s', () => {
    const { events } = parseAsciicast(cast);
    assert.deepEqual(timeline(events), [0.5, 1.0, 1.5, 3.5, 4.25]);
    assert.deepEqual(timeline([{ t: 10 }, { t: 10.5 }], 2), [2, 2.5]);
    assert.deepEqual(timeline([]), []);
  });

  test('clampSpeed keeps 0.5..4', () => {
    assert.equal(clampSpeed('2'), 2);
    assert.equal(clampSpeed(0.1), 0.5);
    assert.equal(clampSpeed(10), 4);
    assert.equal(clampSpeed('x'), 1);
    assert.equal(clampSpeed(0), 1);
  });

  test('formatClock', () => {
    assert.equal(formatClock(0), '0:00');
    assert.equal(formatClock(65.9), '1:05');
    assert.equal(formatClock(-3), '0:00');
  });
});

function fakeTimers() {
  const c = { t: 0, timers: [] };
  c.now = () => c.t;
  c.setTimer = (fn, ms) => {
    const h = { at: c.t + ms, fn };
    c.timers.push(h);
    return h;
  };
  c.clearTimer = (h) => { c.timers = c.timers.filter((x) => x !== h); };
  c.advance = (ms) => {
    const end = c.t + ms;
    for (;;) {
      c.timers.sort((a, b) => a.at - b.at);
      const h = c.timers[0];
      if (!h || h.at > end) break;
      c.timers.shift();
      c.t = h.at;
      h.fn();
    }
    c.t = end;
  };
  return c;
}

function player(speed = 1) {
  const { events } = parseAsciicast(cast);
  const clock = fakeTimers();
  const out = [];
  const states = [];
  const p = new Playback(events, {
    output: (d) => out.push(d),
    resize: (c, r) => out.push(`[${c}x${r}]`),
    onState: (s) => states.push(s),
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
  });
  p.setSpeed(speed);
  return { p, clock, out, states };
}

describe('Playback', () => {
  test('plays with the recorded timing, long pauses capped', () => {
    const { p, clock, out, states } = player();
    assert.equal(p.duration, 4.25);
    p.play();
    assert.deepEqual(out, []);
    clock.advance(500);
    assert.deepEqual(out, ['$ ']);
    clock.advance(1000);
    assert.deepEqual(out, ['$ ', 'ls\r\n', '[120x40]']);
    clock.advance(1999);
    assert.equal(out.length, 3); // the 10 s pause lasts 2 s
    clock.advance(1);
    assert.equal(out[3], 'after a long pause');
    clock.advance(750);
    assert.equal(out[4], 'é😀');
    assert.deepEqual(states, ['playing', 'ended']);
    assert.equal(p.position(), 4.25);
  });

  test('speed 4x plays four times faster; 0.5x half as fast', () => {
    const fast = player(4);
    fast.p.play();
    fast.clock.advance(1000);
    assert.equal(fast.out.length, 4); // 4 s of (capped) recording in 1 s
    fast.clock.advance(63);
    assert.equal(fast.out.length, 5);
    const slow = player(0.5);
    slow.p.play();
    slow.clock.advance(999);
    assert.deepEqual(slow.out, []);
    slow.clock.advance(1); // 0.5 s at half speed
    assert.deepEqual(slow.out, ['$ ']);
  });

  test('pause holds the position; play resumes; speed changes mid-play do not jump', () => {
    const { p, clock, out } = player();
    p.play();
    clock.advance(700);
    p.pause();
    assert.equal(p.position(), 0.7);
    clock.advance(10_000);
    assert.deepEqual(out, ['$ ']);
    p.play();
    clock.advance(300);
    assert.deepEqual(out, ['$ ', 'ls\r\n']);
    p.setSpeed(2); // at 1.0 s; next event at 1.5 s: 250 ms at 2x
    clock.advance(249);
    assert.equal(out.length, 2);
    clock.advance(1);
    assert.equal(out.length, 3);
  });

  test('play after the end starts over (restart lets the page clear the screen)', () => {
    const { p, clock, out, states } = player(4);
    p.play();
    clock.advance(10_000);
    assert.equal(p.state, 'ended');
    p.play();
    assert.deepEqual(states.slice(-2), ['restart', 'playing']);
    clock.advance(10_000);
    assert.equal(out.length, 10);
  });

  test('an empty recording ends at once', () => {
    const clock = fakeTimers();
    const p = new Playback([], { output() {}, resize() {}, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    p.play();
    assert.equal(p.state, 'ended');
  });
});
