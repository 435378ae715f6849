// The connection of one terminal view (protocol v2, docs/terminal-protocol.md),
// free of the DOM so that it runs under Node with a fake socket and a
// headless xterm.js:
//
//  - hello with the output position first on every (re)connect, then the
//    window size and any keystrokes typed while reconnecting;
//  - output bytes written to xterm.js as bytes (split UTF-8 stays intact);
//    acks of the position xterm.js has processed (write callbacks) at least
//    every 64 KiB and every 100 ms while output flows;
//  - ping every 10 s for the latency (and to notice a dead link);
//  - exit / role notices; close codes; reconnect with backoff and jitter.
import {
  OP_OUTPUT,
  OP_HELLO_REPLY,
  OP_EXIT,
  OP_PONG,
  OP_ROLE,
  OP_NOTICE,
  encodeInput,
  encodeResize,
  encodeHello,
  encodeAck,
  encodePing,
  decodeFrame,
  decodeHelloReply,
  decodeExit,
  decodePong,
  decodeRole,
  decodeNotice,
  OutputTracker,
  backoffDelay,
  closeAction,
  formatDelay,
  sessionEndedText,
} from './protocol.js';

export const PING_INTERVAL_MS = 10_000;
// A v2 server answers pings; one unanswered this long means a dead link
// (laptop sleep, Wi-Fi change) that TCP has not noticed yet.
export const PONG_TIMEOUT_MS = 25_000;
// A connection that stayed up this long resets the backoff.
export const STABLE_MS = 5_000;
export const RECONNECTED_NOTICE_MS = 3_000;
// Keystrokes typed while reconnecting are kept (up to this many bytes) and
// sent once the same shell is back.
export const MAX_QUEUED_INPUT = 64 * 1024;

const OPEN = 1;

function defaultEnv() {
  const g = globalThis;
  return {
    WebSocket: g.WebSocket,
    fetch: g.fetch ? g.fetch.bind(g) : null,
    now: () => (g.performance ? g.performance.now() : Date.now()),
    setTimeout: g.setTimeout.bind(g),
    clearTimeout: g.clearTimeout.bind(g),
    setInterval: g.setInterval.bind(g),
    clearInterval: g.clearInterval.bind(g),
    random: Math.random,
  };
}

export class TerminalConnection {
  /**
   * @param {{term: import('@xterm/xterm').Terminal, url: (size: {cols: number, rows: number}) => string,
   *   sessionId?: string, watch?: boolean,
   *   onChange?: () => void, onOpen?: () => void, env?: object}} opts
   *   url builds the websocket URL; onOpen runs before hello is sent (fit);
   *   env overrides WebSocket, fetch, clock and timers (tests).
   */
  constructor(opts) {
    this.term = opts.term;
    this.url = opts.url;
    this.sessionId = opts.sessionId || '';
    this.watch = !!opts.watch;
    this.onChange = opts.onChange || (() => {});
    this.onOpen = opts.onOpen || (() => {});
    this.env = { ...defaultEnv(), ...(opts.env || {}) };

    this.tracker = new OutputTracker();
    this.ws = null;
    this.connectedAt = 0;
    this.gotHello = false;
    this.exit = null; // {code} once an exit notice came on this connection
    this.attempt = 0;
    this.failures = 0; // attempts in a row that never opened
    this.reconnecting = false;
    this.retryTimer = null;
    this.retryAt = 0;
    this.countdownTimer = null;
    this.ackTimer = null;
    this.pingTimer = null;
    this.pingSentAt = 0;
    this.pingOutstanding = false;
    this.noticeTimer = null;
    this.waiting = null; // closeAction result while waiting for a click/Enter
    this.disposed = false;
    this.leaving = false;
    this.queued = [];
    this.queuedBytes = 0;

    // What the status line shows.
    this.state = 'starting';
    this.text = 'connecting…';
    this.latencyMs = null;
    this.role = this.watch ? 'viewer' : 'driver';
    this.viewers = 0;
    this.notice = null; // the server's latest notice (text)
  }

  // ---------- status ----------

  setStatus(state, text) {
    this.state = state;
    this.text = text;
    this.onChange();
  }

  /** The status line: {text, state}. */
  status() {
    let text = this.text;
    if (this.state === 'connected') {
      if (this.role === 'viewer') text = this.text === 'connected' ? 'watching (read-only)' : `${this.text} · watching (read-only)`;
      if (this.latencyMs !== null) text += ` · ${this.latencyMs} ms`;
      if (this.role === 'driver' && this.viewers > 0) text += ` · 👁 ${this.viewers} watching`;
    }
    return { text, state: this.state };
  }

  // ---------- input from the page ----------

  isOpen() {
    return !!this.ws && this.ws.readyState === OPEN;
  }

  send(frame) {
    if (!this.isOpen()) return false;
    this.ws.send(frame);
    return true;
  }

  /** Keystrokes or paste (string, or bytes from onBinary). */
  input(data) {
    if (this.watch || this.disposed || this.role === 'viewer') return;
    if (this.waiting) {
      if (typeof data === 'string' && data.includes('\r')) this.resume();
      return;
    }
    const frames = encodeInput(data);
    if (this.isOpen()) {
      for (const f of frames) this.ws.send(f);
      return;
    }
    if (this.state === 'ended') return;
    // Reconnecting: keep the keystrokes for the same shell, and try now.
    for (const f of frames) {
      if (this.queuedBytes + f.length > MAX_QUEUED_INPUT) break;
      this.queued.push(f);
      this.queuedBytes += f.length;
    }
    if (this.retryTimer !== null) this.reconnectNow();
  }

  /** The terminal's size changed (fit). */
  resize(cols, rows) {
    if (!this.watch && this.role === 'driver') this.send(encodeResize(cols, rows));
  }

  // ---------- the socket ----------

  connect() {
    this.clearRetry();
    if (this.disposed) return;
    let ws;
    try {
      ws = new this.env.WebSocket(this.url({ cols: this.term.cols, rows: this.term.rows }));
    } catch {
      this.setStatus('error', 'could not open the terminal connection — reload to retry');
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.gotHello = false;
    this.exit = null;
    this.connectedAt = 0;
    if (this.reconnecting) this.setStatus('reconnecting', 'reconnecting…');
    else this.setStatus('starting', 'connecting…');

    ws.addEventListener('open', () => {
      if (ws === this.ws) this.opened();
    });
    ws.addEventListener('message', (ev) => {
      if (ws === this.ws) this.onFrame(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (ws === this.ws) this.onClosed(ev.code, ev.reason);
    });
  }

  opened() {
    const ws = this.ws;
    this.connectedAt = this.env.now();
    this.failures = 0;
    // Hello first, always: the position this screen already shows. The
    // server reads any other first frame as a client without hello, so
    // onOpen (which may fit the terminal and send a resize) runs after.
    ws.send(encodeHello(this.tracker.helloSeq()));
    this.onOpen();
    if (!this.watch) ws.send(encodeResize(this.term.cols, this.term.rows));
    const queued = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    for (const f of queued) ws.send(f);
    this.startPing();
    const was = this.reconnecting;
    this.reconnecting = false;
    if (was) {
      this.setStatus('connected', 'reconnected');
      this.noticeLater(RECONNECTED_NOTICE_MS);
    } else {
      this.setStatus('connected', 'connected');
    }
  }

  onFrame(data) {
    const frame = decodeFrame(data);
    if (!frame) return;
    switch (frame.op) {
      case OP_OUTPUT: {
        if (!frame.data.length) return;
        const { end, generation } = this.tracker.onOutput(frame.data.length);
        // Bytes, not text: a UTF-8 sequence split across frames stays intact.
        this.term.write(frame.data, () => this.written(end, generation));
        return;
      }
      case OP_HELLO_REPLY: {
        const reply = decodeHelloReply(frame.data);
        if (!reply) return;
        this.gotHello = true;
        const { reset } = this.tracker.onHelloReply(reply);
        if (reset) {
          this.term.reset();
          if (this.text === 'reconnected') {
            this.setStatus('connected', 'reconnected — older output was dropped while you were away');
            this.noticeLater(RECONNECTED_NOTICE_MS * 2);
          }
        }
        this.setRole(reply.role);
        // A viewer shows the learner's size; a driver's own fit wins.
        if (this.role === 'viewer' && reply.cols && reply.rows) this.term.resize(reply.cols, reply.rows);
        this.sendPing();
        this.onChange();
        return;
      }
      case OP_EXIT:
        this.exit = decodeExit(frame.data);
        return;
      case OP_PONG: {
        const t = decodePong(frame.data);
        this.pingOutstanding = false;
        if (t !== null) {
          const ms = this.env.now() - t;
          if (ms >= 0 && ms < 600_000) {
            this.latencyMs = Math.round(ms);
            this.onChange();
          }
        }
        return;
      }
      case OP_ROLE: {
        const r = decodeRole(frame.data);
        if (!r) return;
        this.viewers = r.viewers;
        this.setRole(r.role);
        if (this.role === 'viewer' && r.cols && r.rows && (r.cols !== this.term.cols || r.rows !== this.term.rows)) {
          this.term.resize(r.cols, r.rows);
        }
        this.onChange();
        return;
      }
      case OP_NOTICE: {
        const n = decodeNotice(frame.data);
        if (!n) return;
        this.notice = n.text;
        this.onChange();
        return;
      }
      default:
        // Opcodes of newer servers: ignored.
    }
  }

  setRole(role) {
    if (role === this.role) return;
    this.role = role;
    this.term.options.disableStdin = this.watch || role === 'viewer';
  }

  // ---------- acks ----------

  written(end, generation) {
    if (this.tracker.onWritten(end, generation)) this.sendAck();
    else this.scheduleAck();
  }

  scheduleAck() {
    if (this.ackTimer !== null) return;
    const delay = this.tracker.ackDelay(this.env.now());
    if (delay < 0) return;
    if (delay === 0) {
      this.sendAck();
      return;
    }
    this.ackTimer = this.env.setTimeout(() => {
      this.ackTimer = null;
      this.sendAck();
    }, delay);
  }

  sendAck() {
    if (this.ackTimer !== null) {
      this.env.clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    if (!this.isOpen() || !this.tracker.pending()) return;
    this.ws.send(encodeAck(this.tracker.takeAck(this.env.now())));
  }

  // ---------- ping ----------

  sendPing() {
    if (!this.isOpen()) return;
    const now = this.env.now();
    if (this.pingOutstanding && this.gotHello && now - this.pingSentAt > PONG_TIMEOUT_MS) {
      this.drop();
      return;
    }
    if (this.pingOutstanding && now - this.pingSentAt < PING_INTERVAL_MS / 2) return;
    this.ws.send(encodePing(now));
    if (!this.pingOutstanding) this.pingSentAt = now;
    this.pingOutstanding = true;
  }

  startPing() {
    this.stopPing();
    this.pingOutstanding = false;
    this.pingTimer = this.env.setInterval(() => this.sendPing(), PING_INTERVAL_MS);
  }

  stopPing() {
    if (this.pingTimer !== null) this.env.clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  noticeLater(ms) {
    if (this.noticeTimer !== null) this.env.clearTimeout(this.noticeTimer);
    this.noticeTimer = this.env.setTimeout(() => {
      this.noticeTimer = null;
      if (this.state === 'connected') this.setStatus('connected', 'connected');
    }, ms);
  }

  // ---------- closing and reconnecting ----------

  /** Gives up on a socket that stopped answering and reconnects. */
  drop() {
    const ws = this.ws;
    this.ws = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this.onClosed(1006);
  }

  onClosed(code, reason = '') {
    this.ws = null;
    this.stopPing();
    if (this.ackTimer !== null) this.env.clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.disposed || this.leaving) return;
    const upFor = this.connectedAt ? this.env.now() - this.connectedAt : 0;
    const action = closeAction(code, {
      exited: !!this.exit,
      exitCode: this.exit ? this.exit.code : null,
      viewer: this.watch,
      reason,
    });
    this.latencyMs = null;
    if (action.action === 'reconnect') {
      if (upFor >= STABLE_MS) this.attempt = 0;
      if (!this.connectedAt) this.failures++;
      this.scheduleReconnect();
      // A handshake that keeps failing may mean the lab or the login is
      // gone, which a websocket cannot tell: ask the API.
      if (this.failures >= 3 && this.failures % 3 === 0) this.probe();
      return;
    }
    this.queued = [];
    this.queuedBytes = 0;
    this.term.options.cursorBlink = false;
    if (action.action === 'wait') {
      this.waiting = action;
      if (action.state === 'exited') {
        const what = action.text.split(' — ')[0];
        this.term.write(`\r\n\x1b[2m[${what}${this.watch ? '' : ' · Enter: new shell'}]\x1b[0m\r\n`);
      }
      this.setStatus(action.state, action.text);
      return;
    }
    this.term.options.disableStdin = true;
    this.setStatus(action.state, action.text);
  }

  scheduleReconnect() {
    this.clearRetry();
    this.reconnecting = true;
    const delay = backoffDelay(this.attempt, {}, this.env.random);
    this.attempt++;
    this.retryAt = this.env.now() + delay;
    const tick = () => {
      const left = this.retryAt - this.env.now();
      this.setStatus('reconnecting', `connection lost — reconnecting in ${formatDelay(left)}…`);
    };
    tick();
    this.countdownTimer = this.env.setInterval(tick, 250);
    this.retryTimer = this.env.setTimeout(() => this.connect(), delay);
  }

  clearRetry() {
    if (this.retryTimer !== null) this.env.clearTimeout(this.retryTimer);
    if (this.countdownTimer !== null) this.env.clearInterval(this.countdownTimer);
    this.retryTimer = null;
    this.countdownTimer = null;
  }

  /** Skips the backoff wait (typing, the browser going online). */
  reconnectNow() {
    if (this.ws || this.waiting || this.disposed || this.state === 'ended') return;
    this.clearRetry();
    this.reconnecting = true;
    this.connect();
  }

  /** Whether a reconnect is waiting for its timer. */
  retryPending() {
    return this.retryTimer !== null;
  }

  async probe() {
    if (!this.env.fetch || !this.sessionId) return;
    let res;
    try {
      res = await this.env.fetch(`/api/v1/sessions/${encodeURIComponent(this.sessionId)}`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } catch {
      return; // offline: keep trying
    }
    let stop = null;
    if (res.status === 401) {
      stop = 'you are signed out — sign in again and reload the page';
    } else if (res.status === 404 || res.status === 403) {
      stop = 'this lab session has ended — reload the page to start again';
    } else if (res.ok) {
      try {
        const s = await res.json();
        if (s && typeof s.state === 'string' && !['running', 'starting'].includes(s.state)) {
          stop = sessionEndedText(s.end_reason);
        }
      } catch {
        // not JSON: keep trying
      }
    }
    // A connection that opened meanwhile proves the probe wrong.
    if (!stop || this.disposed || this.isOpen()) return;
    if (this.ws) {
      const ws = this.ws; // a handshake in progress: it will fail too
      this.ws = null;
      try {
        ws.close();
      } catch {
        // not open yet
      }
    }
    this.clearRetry();
    this.reconnecting = false;
    this.term.options.disableStdin = true;
    this.term.options.cursorBlink = false;
    this.setStatus('ended', stop);
  }

  /** Leaves the wait after exit/replaced: a new shell, or taking over. */
  resume() {
    const w = this.waiting;
    if (!w || this.disposed) return;
    this.waiting = null;
    if (w.newShell) this.tracker.newStream();
    this.term.options.cursorBlink = !this.watch;
    this.attempt = 0;
    this.reconnecting = false;
    this.connect();
  }

  /** Closes for good (tab closed, page gone). */
  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.clearRetry();
    this.stopPing();
    if (this.ackTimer !== null) this.env.clearTimeout(this.ackTimer);
    if (this.noticeTimer !== null) this.env.clearTimeout(this.noticeTimer);
    this.ackTimer = null;
    this.noticeTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000, 'tab closed');
      } catch {
        // already closed
      }
    }
  }
}
