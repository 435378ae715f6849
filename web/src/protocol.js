// Terminal websocket protocol (pure helpers, no DOM; unit-tested under Node).
//
// Every frame is a binary websocket message whose first byte is an ASCII
// opcode character and whose remaining bytes are the payload.
//
//   client -> server  '0' + UTF-8 input bytes (keystrokes, paste)
//   client -> server  '1' + JSON {"cols":N,"rows":M} (terminal resize)
//   server -> client  '0' + raw output bytes (UTF-8 may be split across frames)
//
// Unknown server opcodes must be ignored by the caller: decodeFrame reports
// them faithfully and leaves the decision to the caller.

/** Opcode of client->server input frames. */
export const OP_INPUT = '0';
/** Opcode of client->server resize frames. */
export const OP_RESIZE = '1';
/** Opcode of server->client output frames. */
export const OP_OUTPUT = '0';

/** Largest payload (bytes, opcode excluded) of one input frame: 32 KiB. */
export const MAX_INPUT_PAYLOAD = 32 * 1024;

const encoder = new TextEncoder();
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

/**
 * Builds the terminal websocket URL for a session on the current origin.
 * @param {{protocol: string, host: string}} loc usually window.location
 * @param {string} sessionId
 * @returns {string}
 */
export function terminalUrl(loc, sessionId) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/terminal`;
}
