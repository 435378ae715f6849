import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  OP_INPUT,
  OP_RESIZE,
  OP_OUTPUT,
  MAX_INPUT_PAYLOAD,
  encodeInput,
  encodeResize,
  decodeFrame,
  binaryStringToBytes,
  terminalUrl,
} from '../src/protocol.js';

const dec = new TextDecoder('utf-8', { fatal: true });
const enc = new TextEncoder();

function payloads(frames) {
  return frames.map((f) => f.subarray(1));
}

function concat(chunks) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

describe('constants', () => {
  test('opcodes are the ASCII characters of the protocol', () => {
    assert.equal(OP_INPUT, '0');
    assert.equal(OP_RESIZE, '1');
    assert.equal(OP_OUTPUT, '0');
    assert.equal(MAX_INPUT_PAYLOAD, 32768);
  });
});

describe('encodeInput', () => {
  test('ASCII keystroke becomes one frame: opcode byte then the bytes', () => {
    const frames = encodeInput('ls -la\r');
    assert.equal(frames.length, 1);
    assert.ok(frames[0] instanceof Uint8Array);
    assert.equal(frames[0][0], 0x30); // '0'
    assert.deepEqual([...frames[0]], [0x30, ...enc.encode('ls -la\r')]);
  });

  test('control characters pass through unchanged', () => {
    const [f] = encodeInput('\x03\x1b[A\x7f');
    assert.deepEqual([...f], [0x30, 0x03, 0x1b, 0x5b, 0x41, 0x7f]);
  });

  test('empty input produces no frames', () => {
    assert.deepEqual(encodeInput(''), []);
    assert.deepEqual(encodeInput(new Uint8Array(0)), []);
  });

  test('multi-byte UTF-8 is encoded as UTF-8', () => {
    const text = 'é€😀日本';
    const [f] = encodeInput(text);
    assert.equal(f[0], 0x30);
    // é=2, €=3, 😀=4, 日=3, 本=3 bytes
    assert.equal(f.length - 1, 2 + 3 + 4 + 3 + 3);
    assert.equal(dec.decode(f.subarray(1)), text);
  });

  test('exactly 32 KiB of input is a single frame', () => {
    const frames = encodeInput('a'.repeat(MAX_INPUT_PAYLOAD));
    assert.equal(frames.length, 1);
    assert.equal(frames[0].length, MAX_INPUT_PAYLOAD + 1);
  });

  test('32 KiB + 1 byte splits into 32 KiB and 1 byte', () => {
    const frames = encodeInput('b'.repeat(MAX_INPUT_PAYLOAD + 1));
    assert.equal(frames.length, 2);
    assert.equal(frames[0].length, MAX_INPUT_PAYLOAD + 1);
    assert.equal(frames[1].length, 2);
    for (const f of frames) assert.equal(f[0], 0x30);
    assert.equal(frames[1][1], 'b'.charCodeAt(0));
  });

  test('large paste is split into frames of at most 32 KiB that reassemble exactly', () => {
    let text = '';
    for (let i = 0; text.length < 100_000; i++) text += `line ${i}: echo hello\n`;
    const frames = encodeInput(text);
    assert.ok(frames.length >= 3);
    for (const f of frames) {
      assert.equal(f[0], 0x30);
      assert.ok(f.length - 1 <= MAX_INPUT_PAYLOAD);
      assert.ok(f.length > 1);
    }
    assert.equal(dec.decode(concat(payloads(frames))), text);
  });

  test('chunk boundary never splits a multi-byte UTF-8 character', () => {
    for (const ch of ['é', '€', '😀']) {
      for (let pad = 0; pad < 4; pad++) {
        // Place multi-byte chars so that one straddles the 32 KiB boundary.
        const text = 'x'.repeat(MAX_INPUT_PAYLOAD - pad) + ch.repeat(10);
        const frames = encodeInput(text);
        assert.ok(frames.length >= 2, `${ch}/${pad}`);
        for (const f of frames) {
          assert.ok(f.length - 1 <= MAX_INPUT_PAYLOAD);
          // Each payload on its own must be valid UTF-8 (fatal decoder throws otherwise).
          assert.doesNotThrow(() => dec.decode(f.subarray(1)), `${ch}/${pad}`);
        }
        assert.equal(dec.decode(concat(payloads(frames))), text);
      }
    }
  });

  test('all-multibyte input chunks on character boundaries', () => {
    const text = '😀'.repeat(20_000); // 80,000 bytes; 32768 is a multiple of 4
    const frames = encodeInput(text);
    assert.equal(frames.length, 3);
    assert.deepEqual(frames.map((f) => f.length - 1), [32768, 32768, 80000 - 65536]);
    const text3 = '€'.repeat(20_000); // 3-byte chars: 32768 is not a multiple of 3
    const frames3 = encodeInput(text3);
    for (const f of frames3) {
      assert.equal((f.length - 1) % 3, 0);
      assert.ok(f.length - 1 <= MAX_INPUT_PAYLOAD);
    }
    assert.equal(frames3[0].length - 1, 32766);
    assert.equal(dec.decode(concat(payloads(frames3))), text3);
  });

  test('raw bytes are chunked exactly at the limit when they are not UTF-8', () => {
    const bytes = new Uint8Array(MAX_INPUT_PAYLOAD * 2 + 5).fill(0x80); // all continuation bytes
    const frames = encodeInput(bytes);
    assert.deepEqual(frames.map((f) => f.length - 1), [MAX_INPUT_PAYLOAD, MAX_INPUT_PAYLOAD, 5]);
    assert.deepEqual(concat(payloads(frames)), bytes);
  });

  test('accepts Uint8Array and ArrayBuffer input without altering bytes', () => {
    const bytes = new Uint8Array([0x1b, 0x5b, 0x4d, 0xff, 0x00]);
    assert.deepEqual([...encodeInput(bytes)[0]], [0x30, ...bytes]);
    assert.deepEqual([...encodeInput(bytes.buffer)[0]], [0x30, ...bytes]);
  });

  test('a Uint8Array view with an offset encodes only the view', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const view = backing.subarray(2, 4);
    assert.deepEqual([...encodeInput(view)[0]], [0x30, 3, 4]);
  });

  test('custom maxPayload is honoured', () => {
    const frames = encodeInput('abcdefghij', 4);
    assert.deepEqual(frames.map((f) => dec.decode(f.subarray(1))), ['abcd', 'efgh', 'ij']);
    assert.throws(() => encodeInput('abc', 0), RangeError);
  });

  test('rejects other types', () => {
    assert.throws(() => encodeInput(42), TypeError);
    assert.throws(() => encodeInput(null), TypeError);
  });
});

describe('encodeResize', () => {
  test("is '1' followed by the JSON {cols, rows}", () => {
    const f = encodeResize(120, 40);
    assert.equal(f[0], 0x31);
    const json = dec.decode(f.subarray(1));
    assert.equal(json, '{"cols":120,"rows":40}');
    assert.deepEqual(JSON.parse(json), { cols: 120, rows: 40 });
  });

  test('floors fractional sizes and clamps to at least 1', () => {
    assert.deepEqual(JSON.parse(dec.decode(encodeResize(80.9, 24.2).subarray(1))), { cols: 80, rows: 24 });
    assert.deepEqual(JSON.parse(dec.decode(encodeResize(0, -3).subarray(1))), { cols: 1, rows: 1 });
  });

  test('rejects non-finite sizes', () => {
    assert.throws(() => encodeResize(NaN, 24), TypeError);
    assert.throws(() => encodeResize(80, Infinity), TypeError);
    assert.throws(() => encodeResize('80', 24), TypeError);
  });
});

describe('decodeFrame', () => {
  test('output frame from an ArrayBuffer', () => {
    const bytes = new Uint8Array([0x30, ...enc.encode('hello\r\n')]);
    const f = decodeFrame(bytes.buffer);
    assert.equal(f.op, OP_OUTPUT);
    assert.equal(dec.decode(f.data), 'hello\r\n');
  });

  test('keeps a UTF-8 sequence split across frames intact as bytes', () => {
    const euro = enc.encode('€'); // e2 82 ac
    const a = decodeFrame(new Uint8Array([0x30, euro[0]]).buffer);
    const b = decodeFrame(new Uint8Array([0x30, euro[1], euro[2], 0x21]).buffer);
    assert.deepEqual([...a.data], [0xe2]);
    assert.deepEqual([...b.data], [0x82, 0xac, 0x21]);
    const streaming = new TextDecoder();
    const text = streaming.decode(a.data, { stream: true }) + streaming.decode(b.data);
    assert.equal(text, '€!');
  });

  test('unknown opcode is reported, not dropped or thrown on', () => {
    const f = decodeFrame(new Uint8Array([0x39, 1, 2, 3]).buffer); // '9'
    assert.equal(f.op, '9');
    assert.notEqual(f.op, OP_OUTPUT);
    assert.deepEqual([...f.data], [1, 2, 3]);
    const g = decodeFrame(new Uint8Array([0x7b]).buffer); // '{' with no payload
    assert.equal(g.op, '{');
    assert.equal(g.data.length, 0);
  });

  test('opcode-only frame has an empty payload', () => {
    const f = decodeFrame(new Uint8Array([0x30]).buffer);
    assert.equal(f.op, '0');
    assert.ok(f.data instanceof Uint8Array);
    assert.equal(f.data.length, 0);
  });

  test('empty or unsupported messages decode to null', () => {
    assert.equal(decodeFrame(new ArrayBuffer(0)), null);
    assert.equal(decodeFrame(undefined), null);
    assert.equal(decodeFrame({}), null);
  });

  test('accepts typed-array views (respecting offset) and text frames', () => {
    const backing = new Uint8Array([0xaa, 0x30, 0x41, 0x42, 0xbb]);
    const f = decodeFrame(backing.subarray(1, 4));
    assert.equal(f.op, '0');
    assert.deepEqual([...f.data], [0x41, 0x42]);
    const t = decodeFrame('0hi');
    assert.equal(t.op, '0');
    assert.equal(dec.decode(t.data), 'hi');
  });

  test('round-trips an encoded input frame', () => {
    const [frame] = encodeInput('pwd\r');
    const f = decodeFrame(frame.buffer);
    assert.equal(f.op, OP_INPUT);
    assert.equal(dec.decode(f.data), 'pwd\r');
  });
});

describe('helpers', () => {
  test('binaryStringToBytes maps each char to one byte', () => {
    assert.deepEqual([...binaryStringToBytes('\x1b[M\x80\xff')], [0x1b, 0x5b, 0x4d, 0x80, 0xff]);
    assert.equal(binaryStringToBytes('').length, 0);
  });

  test('terminalUrl picks ws/wss from the page protocol and escapes the id', () => {
    assert.equal(
      terminalUrl({ protocol: 'http:', host: 'localhost:8080' }, 'abc123'),
      'ws://localhost:8080/api/v1/sessions/abc123/terminal',
    );
    assert.equal(
      terminalUrl({ protocol: 'https:', host: 'dojo.example' }, 'a/b c'),
      'wss://dojo.example/api/v1/sessions/a%2Fb%20c/terminal',
    );
  });
});
