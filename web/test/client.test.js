// TerminalConnection against a fake websocket and clock, writing into a real
// (headless) xterm.js: hello, positions, acks, reconnect, reset, exit, roles.
import { test, describe, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import xterm from '@xterm/xterm';
import { TerminalConnection, PING_INTERVAL_MS, PONG_TIMEOUT_MS } from '../src/client.js';
import { decodeUint64 } from '../src/protocol.js';

const { Terminal } = xterm;
const enc = new TextEncoder();
const dec = new TextDecoder();

class FakeClock {
  constructor() {
    this.t = 1000;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => this.add(fn, ms, 0);
    this.setInterval = (fn, ms) => this.add(fn, ms, ms);
    this.clearTimeout = (id) => this.timers.delete(id);
    this.clearInterval = (id) => this.timers.delete(id);
  }

  add(fn, ms, every) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn, every });
    return id;
  }

  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, tm] of this.timers) {
        if (tm.at <= end && (!next || tm.at < next[1].at)) next = [id, tm];
      }
      if (!next) break;
      const [id, tm] = next;
      this.t = tm.at;
      if (tm.every) tm.at += tm.every;
      else this.timers.delete(id);
      tm.fn();
    }
    this.t = end;
  }
}

class FakeWS {
  static all = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.listeners = {};
    this.closedWith = null;
    FakeWS.all.push(this);
  }

  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }

  emit(type, ev) {
    for (const fn of this.listeners[type] || []) fn(ev);
  }

  send(frame) {
    assert.equal(this.readyState, 1, 'send on a socket that is not open');
    this.sent.push(new Uint8Array(frame));
  }

  close(code) {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }

  // server side
  open() {
    this.readyState = 1;
    this.emit('open', {});
  }

  frame(op, payload = new Uint8Array(0)) {
    const bytes = typeof payload === 'string' ? enc.encode(payload) : payload;
    const f = new Uint8Array(bytes.length + 1);
    f[0] = op.charCodeAt(0);
    f.set(bytes, 1);
    this.emit('message', { data: f.buffer });
  }

  output(bytes) {
    this.frame('0', bytes);
  }

  hello(reply) {
    this.frame('2', JSON.stringify({ tab: 'main', role: 'driver', reset: false, cols: 80, rows: 24, ...reply }));
  }

  serverClose(code) {
    this.readyState = 3;
    this.emit('close', { code });
  }

  ops() {
    return this.sent.map((f) => String.fromCharCode(f[0]));
  }

  frames(op) {
    return this.sent.filter((f) => String.fromCharCode(f[0]) === op).map((f) => f.subarray(1));
  }

  acks() {
    return this.frames('3').map((p) => Number(decodeUint64(p)));
  }

  helloSeq() {
    const h = this.frames('2');
    return h.length ? JSON.parse(dec.decode(h[0])).seq : null;
  }
}

// Resolves once xterm.js has processed everything written so far.
function flush(term) {
  return new Promise((resolve) => term.write('', resolve));
}

function screen(term) {
  const b = term.buffer.active;
  const lines = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

let clock;
let term;

function connection(opts = {}) {
  term = new Terminal({ allowProposedApi: true, cols: 40, rows: 10, scrollback: 1000 });
  const statuses = [];
  const conn = new TerminalConnection({
    term,
    sessionId: 's1',
    url: (size) => `ws://x/api/v1/sessions/s1/terminal?tab=main&cols=${size.cols}&rows=${size.rows}`,
    onChange: () => statuses.push(conn.status()),
    env: {
      WebSocket: FakeWS,
      fetch: opts.fetch || null,
      now: clock.now,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      setInterval: clock.setInterval,
      clearInterval: clock.clearInterval,
      random: () => 0.5, // no jitter
    },
    ...opts,
  });
  conn.statuses = statuses;
  conn.connect();
  return conn;
}

function last() {
  return FakeWS.all[FakeWS.all.length - 1];
}

beforeEach(() => {
  FakeWS.all = [];
  clock = new FakeClock();
});

describe('connecting', () => {
  test('hello {"seq":0} goes first, then the size; the URL carries the size', async () => {
    const conn = connection();
    const ws = last();
    assert.match(ws.url, /cols=40&rows=10$/);
    assert.equal(ws.binaryType, 'arraybuffer');
    ws.open();
    assert.deepEqual(ws.ops(), ['2', '1']);
    assert.equal(ws.helloSeq(), 0);
    assert.deepEqual(JSON.parse(dec.decode(ws.frames('1')[0])), { cols: 40, rows: 10 });
    assert.equal(conn.status().text, 'connected');
    assert.equal(conn.status().state, 'connected');
  });

  test('hello still goes first when the page refits the terminal as the socket opens', () => {
    // The lab page fits the terminal in onOpen; a layout that changed since
    // the socket was made (editor pane, instructions) resizes it there. A
    // resize before hello made the server treat the page as a client
    // without hello: no positions, no control frames, reconnects lost.
    let conn = null;
    conn = connection({ onOpen: () => conn.term.resize(50, 12) });
    const ws = last();
    term.onResize(({ cols, rows }) => conn.resize(cols, rows));
    ws.open();
    assert.equal(ws.ops()[0], '2');
    assert.deepEqual(JSON.parse(dec.decode(ws.frames('1').at(-1))), { cols: 50, rows: 12 });
  });

  test('keystrokes are input frames; unknown opcodes and empty frames are ignored', async () => {
    const conn = connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    conn.input('ls\r');
    assert.deepEqual(dec.decode(ws.frames('0')[0]), 'ls\r');
    ws.frame('9', 'future');
    ws.frame('7');
    ws.emit('message', { data: new ArrayBuffer(0) });
    ws.output('ok');
    await flush(term);
    assert.deepEqual(screen(term), ['ok']);
  });
});

describe('output and acks', () => {
  test('a UTF-8 character split across frames renders whole', async () => {
    connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    const bytes = enc.encode('a€😀b');
    for (const cut of [[0, 2], [2, 3], [3, 6], [6, bytes.length]]) ws.output(bytes.subarray(...cut));
    await flush(term);
    assert.deepEqual(screen(term), ['a€😀b']);
  });

  test('acks the position xterm.js processed: at once, then every 100 ms, and at 64 KiB', async () => {
    const conn = connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.output(enc.encode('hello\r\n'));
    assert.deepEqual(ws.acks(), []); // xterm has not processed it yet
    await flush(term);
    assert.deepEqual(ws.acks(), [7]);

    ws.output(enc.encode('x'.repeat(100)));
    await flush(term);
    assert.deepEqual(ws.acks(), [7]); // within 100 ms of the last ack
    clock.advance(99);
    assert.deepEqual(ws.acks(), [7]);
    clock.advance(1);
    assert.deepEqual(ws.acks(), [7, 107]);

    // 64 KiB unacked acks before the 100 ms are up.
    ws.output(new Uint8Array(65536 - 1).fill(0x61));
    await flush(term);
    assert.deepEqual(ws.acks(), [7, 107]);
    ws.output(new Uint8Array([0x62]));
    await flush(term);
    assert.deepEqual(ws.acks(), [7, 107, 107 + 65536]);
    assert.equal(conn.tracker.position, 107 + 65536);
  });

  test('ack frames are 8-byte big-endian', async () => {
    connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.output(new Uint8Array(300).fill(0x2e));
    await flush(term);
    const [ack] = ws.frames('3');
    assert.deepEqual([...ack], [0, 0, 0, 0, 0, 0, 0x01, 0x2c]);
  });
});

describe('reconnect', () => {
  test('a drop reconnects with backoff and says hello with the last position: no duplicates, no gaps', async () => {
    const conn = connection();
    let ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.output(enc.encode('$ export K=v42\r\n$ '));
    await flush(term);
    const pos = conn.tracker.position;

    ws.serverClose(1006);
    assert.equal(conn.state, 'reconnecting');
    assert.match(conn.status().text, /reconnecting in 0\.3 s…/);
    assert.equal(FakeWS.all.length, 1);
    clock.advance(249);
    assert.equal(FakeWS.all.length, 1);
    clock.advance(1);
    assert.equal(FakeWS.all.length, 2);
    assert.equal(conn.status().text, 'reconnecting…');

    ws = last();
    ws.open();
    assert.equal(ws.helloSeq(), pos);
    assert.equal(conn.status().text, 'reconnected');
    // The server sends exactly what was missed.
    ws.hello({ seq: pos });
    ws.output(enc.encode('echo $K\r\nv42\r\n$ '));
    await flush(term);
    assert.deepEqual(screen(term), ['$ export K=v42', '$ echo $K', 'v42', '$ ']);
    clock.advance(3000);
    assert.equal(conn.status().text.startsWith('connected'), true);
  });

  test('backoff grows while the server is away and stops at 8 s', () => {
    const conn = connection();
    const delays = [];
    for (let i = 0; i < 8; i++) {
      last().serverClose(1006); // never opened
      const before = FakeWS.all.length;
      let waited = 0;
      while (FakeWS.all.length === before) {
        clock.advance(50);
        waited += 50;
      }
      delays.push(waited);
    }
    assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    assert.equal(conn.state, 'reconnecting');
  });

  test('a connection that stayed up resets the backoff', () => {
    connection();
    last().serverClose(1006);
    clock.advance(250);
    last().serverClose(1006);
    clock.advance(500);
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    clock.advance(6000);
    ws.serverClose(1001); // server restart
    const before = FakeWS.all.length;
    clock.advance(250);
    assert.equal(FakeWS.all.length, before + 1);
  });

  test('typing while reconnecting reconnects now and sends the keys after hello', () => {
    const conn = connection();
    last().open();
    last().hello({ seq: 0 });
    last().serverClose(1006);
    clock.advance(100);
    conn.input('pwd\r');
    assert.equal(FakeWS.all.length, 2); // did not wait for the backoff
    const ws = last();
    ws.open();
    assert.deepEqual(ws.ops(), ['2', '1', '0']);
    assert.equal(dec.decode(ws.frames('0')[0]), 'pwd\r');
  });

  test('reset: the screen is cleared and the buffer tail follows', async () => {
    const conn = connection();
    let ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.output(enc.encode('old line\r\n'));
    await flush(term);
    ws.serverClose(1006);
    clock.advance(250);
    ws = last();
    ws.open();
    ws.hello({ seq: 2_000_000, reset: true });
    ws.output(enc.encode('tail\r\n$ '));
    await flush(term);
    assert.deepEqual(screen(term), ['tail', '$ ']);
    assert.equal(conn.tracker.position, 2_000_000 + 8);
    assert.deepEqual(ws.acks(), [2_000_008]);
    assert.match(conn.status().text, /older output was dropped/);
  });

  test('a dead link (no pong for 25 s) is dropped and reconnected', () => {
    const conn = connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    assert.equal(ws.frames('4').length, 1); // first ping right after hello
    clock.advance(PING_INTERVAL_MS * 2);
    assert.equal(FakeWS.all.length, 1);
    clock.advance(PONG_TIMEOUT_MS - PING_INTERVAL_MS * 2 + PING_INTERVAL_MS);
    assert.equal(ws.closedWith, 1005);
    assert.equal(conn.state, 'reconnecting');
  });

  test('an old server (no hello reply, no pongs) is never dropped for silence', () => {
    connection();
    last().open();
    clock.advance(120_000);
    assert.equal(FakeWS.all.length, 1);
    assert.equal(last().closedWith, null);
  });

  test('repeated failed handshakes ask the API; a gone session stops retrying', async () => {
    let asked = 0;
    const conn = connection({ fetch: async (url) => { asked++; assert.equal(url, '/api/v1/sessions/s1'); return new Response('{}', { status: 404 }); } });
    for (let i = 0; i < 3; i++) {
      last().serverClose(1006);
      clock.advance(10_000);
    }
    // The third failure asked; meanwhile another handshake started.
    assert.equal(last().readyState, 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(asked, 1);
    assert.equal(conn.state, 'ended');
    assert.match(conn.status().text, /session has ended/);
    assert.notEqual(last().closedWith, null); // the pending handshake was abandoned
    const n = FakeWS.all.length;
    clock.advance(60_000);
    assert.equal(FakeWS.all.length, n);
  });
});

describe('ping', () => {
  test('latency from the pong shows in the status; pings every 10 s', () => {
    const conn = connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    const [ping] = ws.frames('4');
    assert.equal(ping.length, 8);
    clock.advance(7);
    ws.frame('4', ping);
    assert.equal(conn.latencyMs, 7);
    assert.equal(conn.status().text, 'connected · 7 ms');
    clock.advance(PING_INTERVAL_MS);
    assert.equal(ws.frames('4').length, 2);
  });
});

describe('exit, replaced, ended', () => {
  test('exit notice: message, no reconnect; Enter starts a new shell from position 0', async () => {
    const conn = connection();
    let ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.output(enc.encode('$ exit 3\r\n'));
    ws.frame('3', JSON.stringify({ code: 3 }));
    ws.serverClose(1000);
    await flush(term);
    assert.equal(conn.state, 'exited');
    assert.equal(conn.status().text, 'shell exited (code 3) — press Enter / click to start a new one');
    assert.match(screen(term).join('\n'), /\[shell exited \(code 3\)/);
    clock.advance(60_000);
    assert.equal(FakeWS.all.length, 1);
    conn.input('x'); // other keys do nothing
    assert.equal(FakeWS.all.length, 1);
    conn.input('\r');
    assert.equal(FakeWS.all.length, 2);
    ws = last();
    ws.open();
    assert.equal(ws.helloSeq(), 0);
    assert.deepEqual(ws.frames('0'), []); // the Enter was not sent to the new shell
  });

  test('4000 replaced: no reconnect until resumed, then the same position', async () => {
    const conn = connection();
    let ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.output(enc.encode('abc'));
    await flush(term);
    ws.serverClose(4000);
    assert.equal(conn.state, 'replaced');
    assert.equal(conn.status().text, 'opened in another window — click to take over');
    clock.advance(60_000);
    assert.equal(FakeWS.all.length, 1);
    conn.resume(); // the click
    ws = last();
    ws.open();
    assert.equal(ws.helloSeq(), 3);
  });

  test('4004 session ended: stop for good', () => {
    const conn = connection();
    last().open();
    last().serverClose(4004);
    assert.equal(conn.state, 'ended');
    conn.input('ls\r');
    conn.input('\r');
    clock.advance(60_000);
    assert.equal(FakeWS.all.length, 1);
    assert.equal(term.options.disableStdin, true);
  });

  test('dispose closes with 1000 and never reconnects', () => {
    const conn = connection();
    const ws = last();
    ws.open();
    conn.dispose();
    assert.equal(ws.closedWith, 1000);
    ws.serverClose(1000);
    clock.advance(60_000);
    assert.equal(FakeWS.all.length, 1);
  });
});

describe('notices', () => {
  test('a server notice is kept for the page, not written to the screen', () => {
    let changes = 0;
    const conn = connection({ onChange: () => changes++ });
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    const before = changes;
    ws.frame('6', JSON.stringify({ text: '  This lab has written 3400 MiB of its 4000 MiB disk quota.  ' }));
    assert.equal(conn.notice, 'This lab has written 3400 MiB of its 4000 MiB disk quota.');
    assert.ok(changes > before, 'the page is told');
    assert.equal(conn.tracker.position, 0, 'nothing reached the output stream');
    ws.frame('6', JSON.stringify({ text: '' })); // empty: ignored
    assert.equal(conn.notice, 'This lab has written 3400 MiB of its 4000 MiB disk quota.');
  });
});

describe('roles', () => {
  test('the learner sees how many watch', () => {
    const conn = connection();
    const ws = last();
    ws.open();
    ws.hello({ seq: 0 });
    ws.frame('5', JSON.stringify({ role: 'driver', viewers: 2 }));
    assert.equal(conn.status().text, 'connected · 👁 2 watching');
    ws.frame('5', JSON.stringify({ role: 'driver', viewers: 0 }));
    assert.equal(conn.status().text, 'connected');
  });

  test('a viewer is read-only, sends no size or keys, and takes the learner size', () => {
    const conn = connection({ watch: true });
    const ws = last();
    ws.open();
    assert.deepEqual(ws.ops(), ['2']); // hello only, no resize
    ws.hello({ seq: 0, role: 'viewer', cols: 100, rows: 30 });
    ws.frame('5', JSON.stringify({ role: 'viewer', viewers: 1 }));
    assert.equal(conn.status().text, 'watching (read-only)');
    assert.deepEqual([term.cols, term.rows], [100, 30]);
    // the learner resizes: the role notice carries the new size
    ws.frame('5', JSON.stringify({ role: 'viewer', viewers: 1, cols: 90, rows: 25 }));
    assert.deepEqual([term.cols, term.rows], [90, 25]);
    // a resync: hello again with reset, the tail follows
    ws.output(enc.encode('before'));
    ws.hello({ seq: 5000, reset: true, role: 'viewer', cols: 90, rows: 25 });
    ws.output(enc.encode('tail'));
    assert.equal(conn.tracker.position, 5004);
    conn.input('rm -rf /\r');
    conn.resize(50, 20);
    assert.deepEqual(ws.ops(), ['2', '4']); // the ping only
  });
});
