// Keyboard shortcuts of the terminal (pure; unit-tested under Node).
//
// Ctrl-Shift-C copies the selection, Ctrl-Shift-V pastes, Ctrl-Shift-F opens
// the scrollback search. Plain Ctrl-C (and every other key) goes to the shell.

/**
 * The terminal action a key event asks for, or '' to let xterm.js handle it.
 * @param {{type?: string, key?: string, code?: string, ctrlKey?: boolean, shiftKey?: boolean, altKey?: boolean, metaKey?: boolean}} ev
 * @returns {'copy'|'paste'|'search'|''}
 */
export function keyAction(ev) {
  if (!ev || !ev.ctrlKey || !ev.shiftKey || ev.altKey || ev.metaKey) return '';
  const letter = letterOf(ev);
  if (letter === 'c') return 'copy';
  if (letter === 'v') return 'paste';
  if (letter === 'f') return 'search';
  return '';
}

// The physical key when known (layout independent, like terminals do), else
// the produced character.
function letterOf(ev) {
  if (typeof ev.code === 'string' && /^Key[A-Z]$/.test(ev.code)) return ev.code.slice(3).toLowerCase();
  return typeof ev.key === 'string' && ev.key.length === 1 ? ev.key.toLowerCase() : '';
}
