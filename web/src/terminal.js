// xterm.js terminal wired to the session's websocket.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import {
  OP_OUTPUT,
  encodeInput,
  encodeResize,
  decodeFrame,
  binaryStringToBytes,
  terminalUrl,
} from './protocol.js';

const FONT_FAMILY = [
  'ui-monospace',
  '"Cascadia Mono"',
  '"SF Mono"',
  'Menlo',
  'Consolas',
  '"DejaVu Sans Mono"',
  '"Liberation Mono"',
  '"Noto Sans Mono"',
  'monospace',
].join(', ');

const THEME = {
  background: '#11161d',
  foreground: '#e3e8ef',
  cursor: '#f5c542',
  cursorAccent: '#11161d',
  selectionBackground: '#3b4a60',
  black: '#1b2129',
  red: '#f2777a',
  green: '#8fd18b',
  yellow: '#f5c542',
  blue: '#6fb3f2',
  magenta: '#d49ef0',
  cyan: '#6fd6d0',
  white: '#d5dbe3',
  brightBlack: '#66717f',
  brightRed: '#ff9a9c',
  brightGreen: '#a8e6a3',
  brightYellow: '#ffd96a',
  brightBlue: '#94c8ff',
  brightMagenta: '#e6b8ff',
  brightCyan: '#93ece6',
  brightWhite: '#ffffff',
};

const RESIZE_DEBOUNCE_MS = 50;

/**
 * Creates the terminal in `container` and connects it to the session.
 * @param {HTMLElement} container the #terminal element
 * @param {string} sessionId
 * @param {(text: string, state: string) => void} setStatus status reporter
 */
export function startTerminal(container, sessionId, setStatus) {
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: FONT_FAMILY,
    fontSize: 15,
    scrollback: 5000,
    theme: THEME,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);

  const safeFit = () => {
    // fit() throws or does nothing useful while the pane is hidden/zero-sized.
    if (container.clientWidth === 0 || container.clientHeight === 0) return;
    try {
      fit.fit();
    } catch {
      // ignore: a later resize will fit again
    }
  };
  safeFit();

  let ws = null;
  let leaving = false;
  let resizeTimer = null;

  const send = (frames) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    for (const f of frames) ws.send(f);
  };
  const sendResize = () => send([encodeResize(term.cols, term.rows)]);

  const scheduleFit = () => {
    if (resizeTimer !== null) clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      resizeTimer = null;
      safeFit();
    }, RESIZE_DEBOUNCE_MS);
  };
  window.addEventListener('resize', scheduleFit);
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(scheduleFit).observe(container);
  }
  // fit() changes cols/rows only when the size really changes; tell the server.
  term.onResize(() => sendResize());

  term.onData((data) => send(encodeInput(data)));
  term.onBinary((data) => send(encodeInput(binaryStringToBytes(data))));

  window.addEventListener('pagehide', () => { leaving = true; });

  setStatus('connecting…', 'starting');
  try {
    ws = new WebSocket(terminalUrl(window.location, sessionId));
  } catch {
    setStatus('could not open the terminal connection — reload to retry', 'error');
    return term;
  }
  ws.binaryType = 'arraybuffer';

  ws.addEventListener('open', () => {
    safeFit();
    sendResize();
    setStatus('connected', 'connected');
    term.focus();
  });

  ws.addEventListener('message', (ev) => {
    const frame = decodeFrame(ev.data);
    if (!frame) return;
    if (frame.op === OP_OUTPUT) {
      if (frame.data.length) term.write(frame.data);
    }
    // Other opcodes are from newer servers: ignore them.
  });

  ws.addEventListener('close', (ev) => {
    if (leaving) return;
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    const reason = ev.reason ? ` (${ev.reason})` : '';
    setStatus(`disconnected — reload to reconnect${reason}`, 'disconnected');
  });

  return term;
}
