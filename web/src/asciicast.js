// asciicast v2 recordings: parsing and a playback clock (pure; unit-tested
// under Node). A recording is a header line (JSON object) followed by event
// lines [time, code, data]: "o" output, "r" resize ("COLSxROWS"); other
// codes ("i" input, "m" marker) are skipped.

/** Idle gaps longer than this (seconds) are shortened to it. */
export const IDLE_CAP_S = 2;
export const SPEED_MIN = 0.5;
export const SPEED_MAX = 4;

/** Clamps a playback speed to 0.5..4 (1 for junk). */
export function clampSpeed(v) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return 1;
  return Math.max(SPEED_MIN, Math.min(SPEED_MAX, n));
}

/** Parses "COLSxROWS"; null when malformed. */
export function parseSize(s) {
  const m = /^\s*(\d{1,4})x(\d{1,4})\s*$/.exec(String(s));
  if (!m) return null;
  const cols = Number(m[1]);
  const rows = Number(m[2]);
  if (cols < 1 || rows < 1 || cols > 1000 || rows > 1000) return null;
  return { cols, rows };
}

/**
 * Parses an asciicast v2 file.
 * @param {string} text
 * @returns {{header: {width: number, height: number, title: string, [k: string]: unknown},
 *   events: {t: number, code: 'o'|'r', data: string}[], skipped: number}}
 * @throws {Error} when the header is missing or not version 2
 */
export function parseAsciicast(text) {
  const lines = String(text).split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  let header;
  try {
    header = JSON.parse(lines[i]);
  } catch {
    throw new Error('not an asciicast file (no header line)');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header) || header.version !== 2) {
    throw new Error('not an asciicast v2 recording');
  }
  const width = Number.isInteger(header.width) && header.width > 0 ? header.width : 80;
  const height = Number.isInteger(header.height) && header.height > 0 ? header.height : 24;
  const events = [];
  let skipped = 0;
  let last = 0;
  for (i++; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      skipped++; // e.g. the last line of a recording cut at its size cap
      continue;
    }
    if (!Array.isArray(ev) || ev.length < 3 || !Number.isFinite(ev[0]) || typeof ev[2] !== 'string') {
      skipped++;
      continue;
    }
    if (ev[1] !== 'o' && ev[1] !== 'r') continue;
    if (ev[1] === 'r' && !parseSize(ev[2])) {
      skipped++;
      continue;
    }
    // Times never go backwards on the timeline.
    const t = Math.max(last, ev[0]);
    last = t;
    events.push({ t, code: ev[1], data: ev[2] });
  }
  return {
    header: { ...header, width, height, title: typeof header.title === 'string' ? header.title : '' },
    events,
    skipped,
  };
}

/**
 * Playback times (seconds) of the events with idle gaps capped.
 * @param {{t: number}[]} events
 * @param {number} [cap]
 * @returns {number[]}
 */
export function timeline(events, cap = IDLE_CAP_S) {
  const out = new Array(events.length);
  let prevT = 0;
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    const gap = Math.max(0, events[i].t - prevT);
    at += Math.min(gap, cap);
    prevT = events[i].t;
    out[i] = at;
  }
  return out;
}

/** m:ss of a number of seconds. */
export function formatClock(s) {
  const v = Math.max(0, Math.floor(s));
  return `${Math.floor(v / 60)}:${String(v % 60).padStart(2, '0')}`;
}

/**
 * Plays events on a capped timeline through callbacks. Time comes from
 * `now()` (ms) and waits from `setTimer`/`clearTimer`, so tests can drive it.
 */
export class Playback {
  /**
   * @param {{t: number, code: string, data: string}[]} events
   * @param {{output: (data: string) => void, resize: (cols: number, rows: number) => void,
   *   onState?: (state: string) => void, now?: () => number,
   *   setTimer?: (fn: () => void, ms: number) => unknown, clearTimer?: (h: unknown) => void,
   *   idleCap?: number}} io
   */
  constructor(events, io) {
    this.events = events;
    this.times = timeline(events, io.idleCap ?? IDLE_CAP_S);
    this.duration = this.times.length ? this.times[this.times.length - 1] : 0;
    this.io = io;
    this.now = io.now || (() => Date.now());
    this.setTimer = io.setTimer || ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = io.clearTimer || ((h) => clearTimeout(h));
    this.speed = 1;
    this.next = 0; // index of the next event to play
    this.at = 0; // playback position (s) while paused
    this.startedAt = 0; // now() when `at` was last taken
    this.timer = null;
    this.state = 'ready'; // ready | playing | paused | ended
  }

  /** Current playback position in seconds. */
  position() {
    if (this.state !== 'playing') return this.at;
    return Math.min(this.duration, this.at + ((this.now() - this.startedAt) / 1000) * this.speed);
  }

  setState(s) {
    this.state = s;
    if (this.io.onState) this.io.onState(s);
  }

  /** Starts or resumes; after the end it starts over (the caller clears the screen on 'restart'). */
  play() {
    if (this.state === 'playing') return;
    if (this.state === 'ended') {
      this.next = 0;
      this.at = 0;
      this.setState('restart');
    }
    this.startedAt = this.now();
    this.setState('playing');
    this.tick();
  }

  pause() {
    if (this.state !== 'playing') return;
    this.at = this.position();
    this.startedAt = this.now();
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.setState('paused');
  }

  /** Changes the speed without jumping. */
  setSpeed(v) {
    const s = clampSpeed(v);
    if (this.state === 'playing') {
      this.at = this.position();
      this.startedAt = this.now();
      this.speed = s;
      if (this.timer !== null) this.clearTimer(this.timer);
      this.timer = null;
      this.tick();
    } else {
      this.speed = s;
    }
  }

  /** Plays every due event, then waits for the next one. */
  tick() {
    this.timer = null;
    if (this.state !== 'playing') return;
    const pos = this.position();
    while (this.next < this.events.length && this.times[this.next] <= pos + 1e-6) {
      const ev = this.events[this.next++];
      if (ev.code === 'o') {
        this.io.output(ev.data);
      } else if (ev.code === 'r') {
        const sz = parseSize(ev.data);
        if (sz) this.io.resize(sz.cols, sz.rows);
      }
    }
    if (this.next >= this.events.length) {
      this.at = this.duration;
      this.setState('ended');
      return;
    }
    const wait = ((this.times[this.next] - pos) * 1000) / this.speed;
    this.timer = this.setTimer(() => this.tick(), Math.max(0, Math.round(wait)));
  }

  /** Stops timers for good. */
  dispose() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.state = 'disposed';
  }
}
