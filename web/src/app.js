// opsdojo front end: one bundle for every page; each part activates only when
// its elements are present. No inline scripts (strict CSP).
import '@xterm/xterm/css/xterm.css';
import { initAuthForm, initLogout } from './auth.js';
import { initLab } from './lab.js';
import { initWatch } from './watch.js';
import { initPlayer } from './player.js';
import { initEditor } from './editor.js';
import { initCohorts } from './cohorts.js';
import { initBoard, initTokens } from './board.js';

function init() {
  const logout = document.getElementById('logout');
  if (logout) initLogout(logout);

  const authForm = document.getElementById('auth-form');
  if (authForm) initAuthForm(authForm);

  const lab = document.getElementById('lab');
  if (lab) initLab(lab);

  const watch = document.getElementById('watch');
  if (watch) initWatch(watch);

  const player = document.getElementById('player');
  if (player) initPlayer(player);

  const editor = document.getElementById('editor');
  if (editor) initEditor(editor);
  initCohorts();
  const board = document.getElementById('board');
  if (board) initBoard(board);
  const tokens = document.getElementById('tokens');
  if (tokens) initTokens(tokens);
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', init, { once: true });
} else {
  init();
}
