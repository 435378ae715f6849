// Recording player: <main id="player" data-src="/api/v1/recordings/ID"
// data-title="..."> with #terminal, #play, #pause and #speed (range).
// Fetches the asciicast v2 file and replays it with its timing (0.5x-4x,
// idle gaps capped at 2 s).
import { createXterm } from './terminal.js';
import { parseAsciicast, Playback, clampSpeed, formatClock, SPEED_MIN, SPEED_MAX } from './asciicast.js';

function setText(el, text, state) {
  if (!el) return;
  el.textContent = text;
  if (state) el.dataset.state = state;
}

/** Wires the player page. */
export async function initPlayer(main) {
  const src = main.dataset.src;
  const termEl = document.getElementById('terminal');
  const playBtn = document.getElementById('play');
  const pauseBtn = document.getElementById('pause');
  const speedEl = document.getElementById('speed');
  let statusEl = document.getElementById('term-status');
  if (!termEl) return null;

  // Extra read-outs next to the controls: speed and time.
  const speedLabel = document.createElement('output');
  speedLabel.className = 'player-speed';
  const clock = document.createElement('span');
  clock.className = 'player-time';
  clock.setAttribute('aria-live', 'off');
  const anchor = speedEl || pauseBtn || playBtn;
  const extra = [speedLabel, clock];
  if (!statusEl) {
    statusEl = document.createElement('span');
    statusEl.className = 'player-status';
    statusEl.setAttribute('role', 'status');
    extra.push(statusEl);
  }
  if (anchor) anchor.after(...extra);
  else termEl.before(...extra);

  if (speedEl) {
    // Playback runs at 0.5x-4x: make the slider say so.
    speedEl.min = String(SPEED_MIN);
    speedEl.max = String(SPEED_MAX);
    if (!speedEl.hasAttribute('step')) speedEl.step = '0.25';
    speedEl.value = String(clampSpeed(speedEl.value || 1));
  }
  const speed = () => clampSpeed(speedEl ? speedEl.value : 1);
  const showSpeed = () => setText(speedLabel, `${speed()}×`);
  showSpeed();

  const setButtons = (state) => {
    if (playBtn) playBtn.disabled = state === 'playing' || state === 'loading' || state === 'error';
    if (pauseBtn) pauseBtn.disabled = state !== 'playing';
  };
  setButtons('loading');
  const status = (text, state) => {
    setText(statusEl, text, state);
    main.dataset.state = state;
  };
  status('loading the recording…', 'starting');

  let rec;
  try {
    if (!src) throw new Error('this page names no recording');
    const res = await fetch(src, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(res.status === 404 ? 'recording not found' : `could not load the recording (HTTP ${res.status})`);
    rec = parseAsciicast(await res.text());
  } catch (e) {
    status(e && e.message ? e.message : 'could not load the recording', 'error');
    setButtons('error');
    return null;
  }

  const { term } = createXterm({ readOnly: true, cols: rec.header.width, rows: rec.header.height, scrollback: 10000 });
  termEl.classList.add('has-panes');
  term.open(termEl);

  const playback = new Playback(rec.events, {
    output: (d) => term.write(d),
    resize: (c, r) => term.resize(c, r),
    onState: (s) => {
      if (s === 'restart') {
        term.reset();
        term.resize(rec.header.width, rec.header.height);
        return;
      }
      setButtons(s);
      const label = { playing: 'playing', paused: 'paused', ended: 'finished — press Play to watch again', ready: 'ready — press Play' }[s] || s;
      status(label, s === 'playing' ? 'connected' : s);
    },
  });
  const total = formatClock(playback.duration);
  const showClock = () => setText(clock, `${formatClock(playback.position())} / ${total}`);
  showClock();
  setInterval(showClock, 250);

  if (playBtn) playBtn.addEventListener('click', () => playback.play());
  if (pauseBtn) pauseBtn.addEventListener('click', () => playback.pause());
  if (speedEl) {
    speedEl.addEventListener('input', () => {
      playback.setSpeed(speed());
      showSpeed();
    });
  }
  playback.setSpeed(speed());
  setButtons('ready');
  status(rec.events.length ? 'ready — press Play' : 'this recording is empty', 'ready');
  window.__opsdojoPlayer = { playback, term }; // for tests
  return playback;
}
