import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  OP_HELLO,
  OP_ACK,
  OP_PING,
  OP_HELLO_REPLY,
  OP_EXIT,
  OP_PONG,
  OP_ROLE,
  ACK_BYTES,
  ACK_INTERVAL_MS,
  CLOSE,
  encodeHello,
  encodeAck,
  decodeUint64,
  encodePing,
  decodePong,
  decodeHelloReply,
  decodeExit,
  decodeRole,
  decodeNotice,
  OP_NOTICE,
  decodeFrame,
  terminalUrl,
  OutputTracker,
  backoffDelay,
  closeAction,
  formatDelay,
} from '../src/protocol.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (v) => enc.encode(JSON.stringify(v));

describe('opcodes', () => {
  test('v2 opcodes are the ASCII digits of the spec', () => {
    assert.deepEqual([OP_HELLO, OP_ACK, OP_PING], ['2', '3', '4']);
    assert.deepEqual([OP_HELLO_REPLY, OP_EXIT, OP_PONG, OP_ROLE], ['2', '3', '4', '5']);
    assert.equal(ACK_BYTES, 65536);
    assert.equal(ACK_INTERVAL_MS, 100);
  });
});

describe('encodeHello', () => {
  test("is '2' followed by {\"seq\":N}", () => {
    const f = encodeHello(0);
    assert.equal(f[0], 0x32);
    assert.equal(dec.decode(f.subarray(1)), '{"seq":0}');
    assert.deepEqual(JSON.parse(dec.decode(encodeHello(123456789).subarray(1))), { seq: 123456789 });
  });

  test('writes positions beyond 2^53 exactly (BigInt)', () => {
    const big = (1n << 63n) + 7n;
    assert.equal(dec.decode(encodeHello(big).subarray(1)), `{"seq":${big}}`);
    assert.equal(dec.decode(encodeHello((1n << 64n) - 1n).subarray(1)), '{"seq":18446744073709551615}');
  });

  test('rejects negative, fractional, unsafe and out-of-range positions', () => {
    assert.throws(() => encodeHello(-1), RangeError);
    assert.throws(() => encodeHello(1.5), TypeError);
    assert.throws(() => encodeHello(2 ** 53), TypeError); // not a safe integer: pass a BigInt
    assert.throws(() => encodeHello(1n << 64n), RangeError);
    assert.throws(() => encodeHello('5'), TypeError);
  });
});

describe('encodeAck / decodeUint64', () => {
  test("is '3' + 8 bytes big-endian", () => {
    const f = encodeAck(0x0102030405);
    assert.equal(f.length, 9);
    assert.equal(f[0], 0x33);
    assert.deepEqual([...f.subarray(1)], [0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05]);
  });

  test('boundaries: 0, 2^32, 2^53-1, 2^64-1', () => {
    assert.deepEqual([...encodeAck(0).subarray(1)], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...encodeAck(2 ** 32).subarray(1)], [0, 0, 0, 1, 0, 0, 0, 0]);
    assert.deepEqual([...encodeAck(Number.MAX_SAFE_INTEGER).subarray(1)], [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual([...encodeAck((1n << 64n) - 1n).subarray(1)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  test('round-trips through decodeUint64 as BigInt', () => {
    for (const v of [0n, 1n, 65536n, (1n << 53n) + 1n, (1n << 64n) - 1n]) {
      assert.equal(decodeUint64(encodeAck(v).subarray(1)), v);
    }
    assert.equal(decodeUint64(new Uint8Array(7)), null);
    assert.equal(decodeUint64(new Uint8Array(9)), null);
  });

  test('rejects what is not a uint64', () => {
    assert.throws(() => encodeAck(-1), RangeError);
    assert.throws(() => encodeAck(-1n), RangeError);
    assert.throws(() => encodeAck(1n << 64n), RangeError);
    assert.throws(() => encodeAck(NaN), TypeError);
  });
});

describe('ping / pong', () => {
  test("ping is '4' + 8 bytes that the pong echoes back to the timestamp", () => {
    const ts = 123456.789;
    const f = encodePing(ts);
    assert.equal(f.length, 9);
    assert.equal(f[0], 0x34);
    // the server echoes the payload as a pong frame
    const pong = decodeFrame(new Uint8Array([0x34, ...f.subarray(1)]).buffer);
    assert.equal(pong.op, OP_PONG);
    assert.equal(decodePong(pong.data), ts);
  });

  test('malformed pongs decode to null', () => {
    assert.equal(decodePong(new Uint8Array(4)), null);
    assert.equal(decodePong(new Uint8Array([0x7f, 0xf8, 0, 0, 0, 0, 0, 0])), null); // NaN
    assert.throws(() => encodePing(Infinity), TypeError);
  });
});

describe('server notices', () => {
  test('hello reply with every field', () => {
    const r = decodeHelloReply(json({ tab: 't2', seq: 4096, reset: true, role: 'viewer', cols: 120, rows: 40 }));
    assert.deepEqual(r, { tab: 't2', seq: 4096, reset: true, role: 'viewer', cols: 120, rows: 40 });
  });

  test('hello reply defaults and validation', () => {
    assert.deepEqual(decodeHelloReply(json({ seq: 0 })), { tab: '', seq: 0, reset: false, role: 'driver', cols: 0, rows: 0 });
    assert.equal(decodeHelloReply(json({ tab: 'main' })), null); // no seq
    assert.equal(decodeHelloReply(json({ seq: -1 })), null);
    assert.equal(decodeHelloReply(json({ seq: 1.5 })), null);
    assert.equal(decodeHelloReply(json([1, 2])), null);
    assert.equal(decodeHelloReply(enc.encode('{not json')), null);
    assert.equal(decodeHelloReply(new Uint8Array(0)), null);
    assert.equal(decodeHelloReply(json({ seq: 1, reset: 'yes', cols: 5000, rows: 0 })).reset, false);
    assert.equal(decodeHelloReply(json({ seq: 1, cols: 5000 })).cols, 0);
  });

  test('exit notice', () => {
    assert.deepEqual(decodeExit(json({ code: 0 })), { code: 0 });
    assert.deepEqual(decodeExit(json({ code: 130 })), { code: 130 });
    assert.deepEqual(decodeExit(new Uint8Array(0)), { code: null });
    assert.deepEqual(decodeExit(json({ code: 'x' })), { code: null });
  });

  test('role notice', () => {
    assert.deepEqual(decodeRole(json({ role: 'driver', viewers: 2 })), { role: 'driver', viewers: 2, cols: 0, rows: 0 });
    assert.deepEqual(decodeRole(json({ role: 'viewer' })), { role: 'viewer', viewers: 0, cols: 0, rows: 0 });
    // the server adds the driver's size
    assert.deepEqual(decodeRole(json({ role: 'viewer', viewers: 1, cols: 132, rows: 43 })), { role: 'viewer', viewers: 1, cols: 132, rows: 43 });
    assert.equal(decodeRole(json({ role: 'admin', viewers: 1 })), null);
    assert.equal(decodeRole(enc.encode('garbage')), null);
  });

  test('notice', () => {
    assert.equal(OP_NOTICE, '6');
    assert.deepEqual(decodeNotice(json({ text: ' disk nearly full ' })), { text: 'disk nearly full' });
    assert.equal(decodeNotice(json({ text: '   ' })), null);
    assert.equal(decodeNotice(json({ text: 5 })), null);
    assert.equal(decodeNotice(enc.encode('garbage')), null);
    assert.equal(decodeNotice(json({ text: 'x'.repeat(2000) })).text.length, 500);
  });
});

describe('terminalUrl with options', () => {
  const loc = { protocol: 'http:', host: 'h:1' };
  test('tab, watch and initial size go in the query', () => {
    assert.equal(terminalUrl(loc, 's1', { tab: 'main' }), 'ws://h:1/api/v1/sessions/s1/terminal?tab=main');
    assert.equal(terminalUrl(loc, 's1', { tab: 't2', watch: true }), 'ws://h:1/api/v1/sessions/s1/terminal?tab=t2&watch=1');
    assert.equal(terminalUrl(loc, 's1', { tab: 'main', cols: 100.7, rows: 30 }), 'ws://h:1/api/v1/sessions/s1/terminal?tab=main&cols=100&rows=30');
  });

  test('invalid sizes are left out; names are escaped', () => {
    assert.equal(terminalUrl(loc, 's1', { tab: 'a b', cols: 0, rows: 30 }), 'ws://h:1/api/v1/sessions/s1/terminal?tab=a%20b');
    assert.equal(terminalUrl(loc, 's1', { cols: 2000, rows: 30 }), 'ws://h:1/api/v1/sessions/s1/terminal');
  });
});

describe('OutputTracker', () => {
  test('a fresh screen says hello with 0 and counts output bytes', () => {
    const t = new OutputTracker();
    assert.equal(t.helloSeq(), 0);
    assert.deepEqual(t.onHelloReply({ seq: 0, reset: false }), { reset: false, jumped: false });
    assert.deepEqual(t.onOutput(10), { end: 10, generation: 0 });
    assert.deepEqual(t.onOutput(5), { end: 15, generation: 0 });
    assert.equal(t.helloSeq(), 15); // what was handed to the screen
    assert.equal(t.written, 0); // nothing processed yet
    assert.equal(t.pending(), false);
  });

  test('first write acks at once, then at most every 100 ms until 64 KiB pile up', () => {
    const t = new OutputTracker();
    t.onHelloReply({ seq: 0, reset: false });
    const a = t.onOutput(100);
    assert.equal(t.onWritten(a.end, a.generation), false);
    assert.equal(t.ackDelay(1000), 0); // never acked: due now
    assert.equal(t.takeAck(1000), 100);
    assert.equal(t.ackDelay(1000), -1); // nothing pending

    const b = t.onOutput(200);
    t.onWritten(b.end, b.generation);
    assert.equal(t.ackDelay(1030), 70); // 100 ms after the last ack
    assert.equal(t.ackDelay(1100), 0);
    assert.equal(t.ackDelay(1250), 0);
    assert.equal(t.takeAck(1250), 300);
  });

  test('64 KiB boundary: one byte short waits, the 64 KiB-th byte acks now', () => {
    const t = new OutputTracker();
    t.onHelloReply({ seq: 0, reset: false });
    const a = t.onOutput(1);
    t.onWritten(a.end, a.generation);
    t.takeAck(0);
    const b = t.onOutput(ACK_BYTES - 1);
    assert.equal(t.onWritten(b.end, b.generation), false); // 65535 unacked
    assert.equal(t.ackDelay(10), 90);
    const c = t.onOutput(1);
    assert.equal(t.onWritten(c.end, c.generation), true); // 65536 unacked
    assert.equal(t.ackDelay(10), 0);
    assert.equal(t.takeAck(10), ACK_BYTES + 1);
  });

  test('write callbacks out of order never move written backwards', () => {
    const t = new OutputTracker();
    const a = t.onOutput(10);
    const b = t.onOutput(10);
    t.onWritten(b.end, b.generation);
    t.onWritten(a.end, a.generation);
    assert.equal(t.written, 20);
  });

  test('reconnect: hello carries the last position; the reply continues from it', () => {
    const t = new OutputTracker();
    t.onHelloReply({ seq: 0, reset: false });
    const a = t.onOutput(1000);
    t.onWritten(a.end, a.generation);
    t.takeAck(0);
    t.onOutput(24); // handed to xterm, not yet processed when the socket dropped
    assert.equal(t.helloSeq(), 1024);
    assert.deepEqual(t.onHelloReply({ seq: 1024, reset: false }), { reset: false, jumped: false });
    // The server counts this connection from 1024: that is acked already.
    assert.equal(t.acked, 1024);
    // The late callback of the old connection's write still counts but adds no ack.
    t.onWritten(1024, 0);
    assert.equal(t.pending(), false);
    const b = t.onOutput(6);
    t.onWritten(b.end, b.generation);
    assert.equal(t.takeAck(500), 1030);
  });

  test('reset: counters jump to the buffer tail and stale callbacks are ignored', () => {
    const t = new OutputTracker();
    const old = t.onOutput(500);
    assert.deepEqual(t.onHelloReply({ seq: 3_000_000, reset: true }), { reset: true, jumped: false });
    assert.equal(t.position, 3_000_000);
    assert.equal(t.written, 3_000_000);
    assert.equal(t.acked, 3_000_000);
    assert.equal(t.onWritten(old.end, old.generation), false); // old generation
    assert.equal(t.written, 3_000_000);
    const n = t.onOutput(10);
    assert.equal(n.end, 3_000_010);
    t.onWritten(n.end, n.generation);
    assert.equal(t.takeAck(1), 3_000_010);
  });

  test('a server that continues elsewhere without reset is followed (jumped)', () => {
    const t = new OutputTracker();
    t.onOutput(50);
    assert.deepEqual(t.onHelloReply({ seq: 0, reset: false }), { reset: false, jumped: true });
    assert.equal(t.position, 0);
    assert.equal(t.onOutput(5).end, 5);
  });

  test('newStream starts from 0 for a new shell', () => {
    const t = new OutputTracker();
    const a = t.onOutput(77);
    t.newStream();
    assert.equal(t.helloSeq(), 0);
    assert.equal(t.onWritten(a.end, a.generation), false);
    assert.equal(t.written, 0);
  });
});

describe('backoffDelay', () => {
  test('doubles from 250 ms to a cap of 8 s without jitter', () => {
    const d = (n) => backoffDelay(n, { jitter: 0 });
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map(d), [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  test('jitter stays within +/- 20% and the bounds', () => {
    assert.equal(backoffDelay(0, {}, () => 0), 200);
    assert.equal(backoffDelay(0, {}, () => 0.999999), 300);
    assert.equal(backoffDelay(2, {}, () => 0.5), 1000);
    for (let i = 0; i < 200; i++) {
      const v = backoffDelay(10);
      assert.ok(v >= 6400 && v <= 8000, String(v));
    }
  });

  test('junk attempts behave like 0; huge ones like the cap', () => {
    assert.equal(backoffDelay(-5, { jitter: 0 }), 250);
    assert.equal(backoffDelay(NaN, { jitter: 0 }), 250);
    assert.equal(backoffDelay(1e9, { jitter: 0 }), 8000);
  });
});

describe('closeAction', () => {
  test('drops and server restarts reconnect by themselves', () => {
    for (const code of [1001, 1005, 1006, 1011, 1009, 1008, 4999]) {
      assert.equal(closeAction(code).action, 'reconnect', String(code));
    }
  });

  test('exit notice then 1000: wait for Enter/click, new shell', () => {
    const a = closeAction(CLOSE.NORMAL, { exited: true, exitCode: 2 });
    assert.equal(a.action, 'wait');
    assert.equal(a.newShell, true);
    assert.equal(a.text, 'shell exited (code 2) — press Enter / click to start a new one');
    // an exit notice wins over whatever code follows
    assert.equal(closeAction(1006, { exited: true, exitCode: 0 }).action, 'wait');
  });

  test('1000 without exit notice (tab closed elsewhere) does not reconnect', () => {
    const a = closeAction(CLOSE.NORMAL);
    assert.equal(a.action, 'wait');
    assert.match(a.text, /terminal closed/);
  });

  test('4000 replaced: click to take over, same shell', () => {
    const a = closeAction(CLOSE.REPLACED);
    assert.deepEqual([a.action, a.state, a.newShell], ['wait', 'replaced', false]);
    assert.equal(a.text, 'opened in another window — click to take over');
  });

  test('4004 session ended: stop', () => {
    const a = closeAction(CLOSE.SESSION_ENDED);
    assert.deepEqual([a.action, a.state], ['stop', 'ended']);
    assert.equal(a.text, 'this lab session has ended — reload the page to start again');
  });

  test('4004 with the server\'s reason shows it', () => {
    const a = closeAction(CLOSE.SESSION_ENDED, { reason: 'the lab session ended: its files grew past the 100 MiB disk quota (250 MiB written)' });
    assert.equal(a.action, 'stop');
    assert.equal(a.text, 'this lab session has ended: its files grew past the 100 MiB disk quota (250 MiB written) — reload the page to start again');
    // The plain text the server sends without a reason adds nothing.
    assert.equal(closeAction(CLOSE.SESSION_ENDED, { reason: 'the lab session ended' }).text, 'this lab session has ended — reload the page to start again');
  });

  test('4029 too many viewers: wait for a click, do not hammer the server', () => {
    const a = closeAction(CLOSE.TOO_MANY_VIEWERS, { viewer: true });
    assert.deepEqual([a.action, a.state, a.newShell], ['wait', 'full', false]);
    assert.match(a.text, /too many people are watching/);
  });

  test('viewers are told to click, not to press Enter', () => {
    assert.match(closeAction(1000, { exited: true, exitCode: 0, viewer: true }).text, /click to watch again/);
  });
});

describe('formatDelay', () => {
  test('tenths under a second, whole seconds above', () => {
    assert.equal(formatDelay(250), '0.3 s');
    assert.equal(formatDelay(-5), '0.0 s');
    assert.equal(formatDelay(1999), '2 s');
    assert.equal(formatDelay(8000), '8 s');
  });
});
