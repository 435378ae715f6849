// Terminal websocket protocol v2 (pure helpers, no DOM; unit-tested under
// Node). The spec is docs/terminal-protocol.md.
//
// Every frame is a binary websocket message whose first byte is an ASCII
// opcode character and whose remaining bytes are the payload.
//
//   client -> server  '0' raw input bytes (keystrokes, paste; <= 32 KiB each)
//   client -> server  '1' JSON {"cols":N,"rows":M}             resize
//   client -> server  '2' JSON {"seq":N}                       hello (first frame)
//   client -> server  '3' 8-byte big-endian uint64             ack (position written)
//   client -> server  '4' 8 opaque bytes                       ping
//   server -> client  '0' raw output bytes (UTF-8 may be split across frames)
//   server -> client  '2' JSON {"tab","seq","reset","role","cols","rows"}  hello reply
//   server -> client  '3' JSON {"code":N}                      the shell exited
//   server -> client  '4' the ping's 8 bytes                   pong
//   server -> client  '5' JSON {"role","viewers"}              role notice
//
// Unknown server opcodes must be ignored by the caller: decodeFrame reports
// them faithfully and leaves the decision to the caller.

/** Opcode of client->server input frames. */
export const OP_INPUT = '0';
/** Opcode of client->server resize frames. */
export const OP_RESIZE = '1';
/** Opcode of client->server hello frames. */
export const OP_HELLO = '2';
/** Opcode of client->server ack frames. */
export const OP_ACK = '3';
/** Opcode of client->server ping frames. */
export const OP_PING = '4';

/** Opcode of server->client output frames. */
export const OP_OUTPUT = '0';
/** Opcode of the server's hello reply. */
export const OP_HELLO_REPLY = '2';
/** Opcode of the server's exit notice. */
export const OP_EXIT = '3';
/** Opcode of the server's pong. */
export const OP_PONG = '4';
/** Opcode of the server's role notice. */
export const OP_ROLE = '5';
/** Opcode of a notice from the server for the people at the terminal. */
export const OP_NOTICE = '6';

/** Largest payload (bytes, opcode excluded) of one input frame: 32 KiB. */
export const MAX_INPUT_PAYLOAD = 32 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

function frame(op, payload) {
  const out = new Uint8Array(payload.length + 1);
  out[0] = op.charCodeAt(0);
  out.set(payload, 1);
  return out;
}

// Returns where to end a chunk that starts at `start` and may be at most
// `max` bytes long, preferring not to cut a UTF-8 sequence in half. Bytes that
// are not valid UTF-8 are cut exactly at the limit.
function chunkEnd(bytes, start, max) {
  const limit = start + max;
  if (limit >= bytes.length) return bytes.length;
  let cut = limit;
  // Step back over at most 3 continuation bytes (10xxxxxx) to a lead byte.
  while (cut > limit - 3 && cut > start + 1 && (bytes[cut] & 0xc0) === 0x80) cut--;
  if (cut < limit && bytes[cut] >= 0xc0 && cut > start) return cut;
  return limit;
}

/**
 * Encodes terminal input into one or more input frames.
 * @param {string|Uint8Array} input text (UTF-8 encoded here) or raw bytes
 * @param {number} [maxPayload] largest payload per frame (default 32 KiB)
 * @returns {Uint8Array[]} frames to send in order; empty array for empty input
 */
export function encodeInput(input, maxPayload = MAX_INPUT_PAYLOAD) {
  let bytes;
  if (typeof input === 'string') {
    bytes = encoder.encode(input);
  } else if (input instanceof Uint8Array) {
    bytes = input;
  } else if (input instanceof ArrayBuffer) {
    bytes = new Uint8Array(input);
  } else {
    throw new TypeError('encodeInput: expected a string, Uint8Array or ArrayBuffer');
  }
  if (!Number.isInteger(maxPayload) || maxPayload < 4) {
    throw new RangeError('encodeInput: maxPayload must be an integer >= 4');
  }
  const frames = [];
  let start = 0;
  while (start < bytes.length) {
    const end = chunkEnd(bytes, start, maxPayload);
    frames.push(frame(OP_INPUT, bytes.subarray(start, end)));
    start = end;
  }
  return frames;
}

/**
 * Encodes a resize frame: '1' + {"cols":N,"rows":M}.
 * @param {number} cols
 * @param {number} rows
 * @returns {Uint8Array}
 */
export function encodeResize(cols, rows) {
  if (!Number.isFinite(cols) || !Number.isFinite(rows)) {
    throw new TypeError('encodeResize: cols and rows must be finite numbers');
  }
  const c = Math.max(1, Math.min(65535, Math.floor(cols)));
  const r = Math.max(1, Math.min(65535, Math.floor(rows)));
  return frame(OP_RESIZE, encoder.encode(JSON.stringify({ cols: c, rows: r })));
}

/**
 * Decodes one server frame.
 * @param {ArrayBuffer|ArrayBufferView|string} message websocket message data
 * @returns {{op: string, data: Uint8Array} | null} null for an empty frame;
 *   op is the opcode character, data the payload (a view, not a copy)
 */
export function decodeFrame(message) {
  let bytes;
  if (message instanceof ArrayBuffer) {
    bytes = new Uint8Array(message);
  } else if (ArrayBuffer.isView(message)) {
    bytes = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  } else if (typeof message === 'string') {
    bytes = encoder.encode(message);
  } else {
    return null;
  }
  if (bytes.length === 0) return null;
  return {
    op: String.fromCharCode(bytes[0]),
    data: bytes.length > 1 ? bytes.subarray(1) : EMPTY,
  };
}

/**
 * Converts a "binary string" (one char per byte, as xterm's onBinary gives)
 * into bytes.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function binaryStringToBytes(s) {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Largest position an ack can carry: 2^64 - 1. */
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Builds the terminal websocket URL for a session on the current origin.
 * @param {{protocol: string, host: string}} loc usually window.location
 * @param {string} sessionId
 * @param {{tab?: string, watch?: boolean, cols?: number, rows?: number}} [opts]
 * @returns {string}
 */
export function terminalUrl(loc, sessionId, opts = {}) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = `${scheme}//${loc.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/terminal`;
  const q = [];
  if (opts.tab) q.push(`tab=${encodeURIComponent(opts.tab)}`);
  if (opts.watch) q.push('watch=1');
  if (validSize(opts.cols) && validSize(opts.rows)) {
    q.push(`cols=${Math.floor(opts.cols)}`, `rows=${Math.floor(opts.rows)}`);
  }
  return q.length ? `${base}?${q.join('&')}` : base;
}

function validSize(n) {
  return Number.isFinite(n) && n >= 1 && n <= 1000;
}

function toUint64(value, what) {
  let v;
  if (typeof value === 'bigint') {
    v = value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    v = BigInt(value);
  } else {
    throw new TypeError(`${what}: expected a non-negative safe integer or a BigInt`);
  }
  if (v < 0n || v > UINT64_MAX) throw new RangeError(`${what}: ${v} is outside 0..2^64-1`);
  return v;
}

/**
 * Encodes the hello frame: '2' + {"seq":N}, N the output position the client
 * has already shown (0 for a fresh screen).
 * @param {number|bigint} seq
 * @returns {Uint8Array}
 */
export function encodeHello(seq) {
  const v = toUint64(seq, 'encodeHello');
  // JSON numbers beyond 2^53 lose precision in JavaScript but not in Go's
  // decoder: write the exact decimal digits.
  return frame(OP_HELLO, encoder.encode(`{"seq":${v.toString()}}`));
}

/**
 * Encodes an ack frame: '3' + the position as an 8-byte big-endian uint64.
 * @param {number|bigint} position bytes of output written to the screen
 * @returns {Uint8Array} 9 bytes
 */
export function encodeAck(position) {
  const v = toUint64(position, 'encodeAck');
  const out = new Uint8Array(9);
  out[0] = OP_ACK.charCodeAt(0);
  new DataView(out.buffer).setBigUint64(1, v, false);
  return out;
}

/**
 * Reads an 8-byte big-endian uint64 (an ack payload) as a BigInt.
 * @param {Uint8Array} data exactly 8 bytes
 * @returns {bigint|null} null when the length is wrong
 */
export function decodeUint64(data) {
  if (!(data instanceof Uint8Array) || data.length !== 8) return null;
  return new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, false);
}

/**
 * Encodes a ping frame carrying a timestamp (milliseconds, e.g.
 * performance.now()) as an 8-byte big-endian float64. The server echoes the
 * bytes back unchanged in a pong.
 * @param {number} timestampMs
 * @returns {Uint8Array} 9 bytes
 */
export function encodePing(timestampMs) {
  if (!Number.isFinite(timestampMs)) throw new TypeError('encodePing: timestamp must be a finite number');
  const out = new Uint8Array(9);
  out[0] = OP_PING.charCodeAt(0);
  new DataView(out.buffer).setFloat64(1, timestampMs, false);
  return out;
}

/**
 * Decodes a pong payload back into the timestamp its ping carried.
 * @param {Uint8Array} data
 * @returns {number|null} null when the payload is not 8 bytes or not finite
 */
export function decodePong(data) {
  if (!(data instanceof Uint8Array) || data.length !== 8) return null;
  const t = new DataView(data.buffer, data.byteOffset, 8).getFloat64(0, false);
  return Number.isFinite(t) ? t : null;
}

function parseJSON(data) {
  if (!(data instanceof Uint8Array) || data.length === 0) return null;
  try {
    const v = JSON.parse(decoder.decode(data));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function position(v) {
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

function size(v) {
  return Number.isInteger(v) && v >= 1 && v <= 1000 ? v : 0;
}

/**
 * Decodes the server's hello reply.
 * @param {Uint8Array} data payload of a '2' frame
 * @returns {{tab: string, seq: number, reset: boolean, role: string, cols: number, rows: number} | null}
 *   null when malformed (no JSON object or no valid seq). cols/rows are 0
 *   when absent; role defaults to "driver".
 */
export function decodeHelloReply(data) {
  const v = parseJSON(data);
  if (!v) return null;
  const seq = position(v.seq);
  if (seq === null) return null;
  return {
    tab: typeof v.tab === 'string' ? v.tab : '',
    seq,
    reset: v.reset === true,
    role: v.role === 'viewer' ? 'viewer' : 'driver',
    cols: size(v.cols),
    rows: size(v.rows),
  };
}

/**
 * Decodes the exit notice.
 * @param {Uint8Array} data payload of a server '3' frame
 * @returns {{code: number|null}} code null when the server did not say
 */
export function decodeExit(data) {
  const v = parseJSON(data);
  const code = v && Number.isInteger(v.code) ? v.code : null;
  return { code };
}

/**
 * Decodes a role notice. The server also puts the driver's window size in
 * it (cols/rows, 0 when absent) and sends it again when that changes, so
 * viewers can follow the learner's size.
 * @param {Uint8Array} data payload of a '5' frame
 * @returns {{role: string, viewers: number, cols: number, rows: number} | null}
 */
export function decodeRole(data) {
  const v = parseJSON(data);
  if (!v || (v.role !== 'driver' && v.role !== 'viewer')) return null;
  const viewers = Number.isInteger(v.viewers) && v.viewers >= 0 ? v.viewers : 0;
  return { role: v.role, viewers, cols: size(v.cols), rows: size(v.rows) };
}

/**
 * Decodes a server notice: its text, trimmed and at most 500 characters,
 * or null when there is none.
 */
export function decodeNotice(data) {
  const v = parseJSON(data);
  if (!v || typeof v.text !== 'string' || !v.text.trim()) return null;
  return { text: v.text.trim().slice(0, 500) };
}

/** Ack at least every this many bytes written. */
export const ACK_BYTES = 64 * 1024;
/** ...and at least this often (ms) while output flows. */
export const ACK_INTERVAL_MS = 100;

/**
 * Output position and ack bookkeeping for one terminal screen.
 *
 *  - `position`: bytes of the output stream handed to the screen (what the
 *    next hello asks to continue from);
 *  - `written`: bytes the screen has processed (xterm.js write callbacks);
 *  - `acked`: the last position acked to the server.
 *
 * A write's callback carries the generation it was made in; a reset (or a
 * server that jumps to another position) starts a new generation so that
 * late callbacks of the old stream cannot move the counters.
 */
export class OutputTracker {
  constructor({ ackBytes = ACK_BYTES, ackIntervalMs = ACK_INTERVAL_MS } = {}) {
    this.ackBytes = ackBytes;
    this.ackIntervalMs = ackIntervalMs;
    this.position = 0;
    this.written = 0;
    this.acked = 0;
    this.lastAckAt = -Infinity;
    this.generation = 0;
  }

  /** The seq to send in hello. */
  helloSeq() {
    return this.position;
  }

  /**
   * Applies the server's hello reply.
   * @param {{seq: number, reset: boolean}} reply
   * @returns {{reset: boolean, jumped: boolean}} reset: clear the screen
   *   before writing; jumped: the server continues from another position
   *   than asked (no clear; counters follow the server).
   */
  onHelloReply(reply) {
    const asked = this.position;
    if (reply.reset || reply.seq !== asked) {
      this.generation++;
      this.position = reply.seq;
      this.written = reply.seq;
      this.acked = reply.seq;
      return { reset: !!reply.reset, jumped: !reply.reset };
    }
    // The server counts this connection's acks from seq: anything at or
    // below it is acked already.
    if (this.acked < reply.seq) this.acked = reply.seq;
    return { reset: false, jumped: false };
  }

  /**
   * Counts an output frame handed to the screen.
   * @param {number} length payload bytes
   * @returns {{end: number, generation: number}} what the write callback
   *   passes back to onWritten
   */
  onOutput(length) {
    this.position += length;
    return { end: this.position, generation: this.generation };
  }

  /**
   * Records that the screen processed output up to `end`.
   * @returns {boolean} true when an ack is due at once (ackBytes unacked)
   */
  onWritten(end, generation) {
    if (generation !== this.generation) return false;
    if (end > this.written) this.written = end;
    return this.written - this.acked >= this.ackBytes;
  }

  /** Whether written bytes wait for an ack. */
  pending() {
    return this.written > this.acked;
  }

  /**
   * Milliseconds until the interval ack is due (0: now), or -1 when nothing
   * waits for an ack.
   */
  ackDelay(now) {
    if (!this.pending()) return -1;
    if (this.written - this.acked >= this.ackBytes) return 0;
    return Math.max(0, this.lastAckAt + this.ackIntervalMs - now);
  }

  /** Takes the position to ack now and marks it acked. */
  takeAck(now) {
    this.acked = this.written;
    this.lastAckAt = now;
    return this.acked;
  }

  /** Starts over for a new shell (a new output stream from 0). */
  newStream() {
    this.generation++;
    this.position = 0;
    this.written = 0;
    this.acked = 0;
    this.lastAckAt = -Infinity;
  }
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from
 * baseMs doubling up to maxMs, with +/- jitter (a fraction of the delay).
 * @param {number} attempt
 * @param {{baseMs?: number, maxMs?: number, jitter?: number}} [opts]
 * @param {() => number} [random] uniform in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, opts = {}, random = Math.random) {
  const { baseMs = 250, maxMs = 8000, jitter = 0.2 } = opts;
  const n = Math.max(0, Math.min(30, Math.floor(attempt) || 0));
  const exp = Math.min(maxMs, baseMs * 2 ** n);
  const delta = exp * jitter * (random() * 2 - 1);
  return Math.round(Math.max(baseMs * (1 - jitter), Math.min(maxMs, exp + delta)));
}

/** Close codes of the protocol. */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
  REPLACED: 4000,
  SESSION_ENDED: 4004,
  TOO_MANY_VIEWERS: 4029,
  SIGNED_OUT: 4401,
};

/**
 * The status line of an ended session, with the server's reason when it
 * gave one (a disk quota, say).
 * @param {string} [why]
 */
export function sessionEndedText(why) {
  const reason = typeof why === 'string' ? why.trim().slice(0, 200) : '';
  return reason
    ? `this lab session has ended: ${reason} — reload the page to start again`
    : 'this lab session has ended — reload the page to start again';
}

/**
 * What to do when the socket closed.
 * @param {number} code the close code
 * @param {{exitCode?: number|null, exited?: boolean, viewer?: boolean, reason?: string}} [ctx]
 *   exited: an exit notice came before the close; reason: the close text
 * @returns {{action: 'reconnect'|'wait'|'stop', state: string, text: string, newShell: boolean}}
 *   reconnect: by itself, with backoff; wait: on a click (or Enter);
 *   stop: never. newShell: the next connection starts a new output stream.
 */
export function closeAction(code, ctx = {}) {
  const viewer = !!ctx.viewer;
  if (ctx.exited || code === CLOSE.NORMAL) {
    const what = ctx.exited
      ? `shell exited${Number.isInteger(ctx.exitCode) ? ` (code ${ctx.exitCode})` : ''}`
      : 'terminal closed';
    const text = viewer
      ? `${what} — click to watch again`
      : `${what} — press Enter / click to start a new one`;
    return { action: 'wait', state: 'exited', text, newShell: true };
  }
  if (code === CLOSE.REPLACED) {
    return { action: 'wait', state: 'replaced', text: 'opened in another window — click to take over', newShell: false };
  }
  if (code === CLOSE.TOO_MANY_VIEWERS) {
    return { action: 'wait', state: 'full', text: 'too many people are watching this terminal — click to try again', newShell: false };
  }
  if (code === CLOSE.SESSION_ENDED) {
    // The server's close text is "the lab session ended[: why]".
    const why = typeof ctx.reason === 'string' ? ctx.reason.replace(/^the lab session ended:?\s*/, '') : '';
    return { action: 'stop', state: 'ended', text: sessionEndedText(why), newShell: false };
  }
  if (code === CLOSE.SIGNED_OUT) {
    // The login that opened the socket ended (sign-out, expiry, password
    // reset): reconnecting would only be refused.
    return { action: 'stop', state: 'signedout', text: 'you are signed out — sign in again to use this terminal', newShell: false };
  }
  return { action: 'reconnect', state: 'reconnecting', text: 'reconnecting…', newShell: false };
}

/**
 * Formats a delay for the status line: "0.3 s" under a second, else whole
 * seconds ("2 s").
 */
export function formatDelay(ms) {
  if (ms < 950) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 1000)} s`;
}
