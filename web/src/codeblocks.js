// Code blocks of the lab instructions and hints: a Copy button on every
// block, and a Run button on run blocks (```bash run in the lab's markdown,
// rendered as <pre class="code-run"> by internal/markdown) that types the
// block into the learner's active terminal and presses Enter. The text is
// the block's textContent (what the learner sees) and goes through the
// terminal's normal input path (xterm.js paste: bracketed when the shell
// asked for it), so it only ever runs in the learner's own shell, on
// their click.
export const RUN_CLASS = 'code-run';

/**
 * What a Run button types: the block's text without its trailing newline,
 * CRLF as LF, and nothing if it is blank.
 * @param {unknown} text
 * @returns {string}
 */
export function runText(text) {
  const s = String(text === null || text === undefined ? '' : text).replace(/\r\n?/g, '\n').replace(/\n+$/, '');
  return s.trim() === '' ? '' : s;
}

/**
 * Types text into an xterm.js terminal as a paste and presses Enter.
 * @param {{paste: (s: string) => void, input: (s: string, user?: boolean) => void, focus?: () => void}} term
 * @param {string} text
 */
export function typeIntoTerminal(term, text) {
  const s = runText(text);
  if (!s) return false;
  term.paste(s);
  term.input('\r', true);
  return true;
}

function button(label, className, title) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `code-btn ${className}`;
  b.textContent = label;
  b.title = title;
  return b;
}

function flash(b, text, label) {
  b.textContent = text;
  clearTimeout(b._flash);
  b._flash = setTimeout(() => { b.textContent = label; }, 1500);
}

/**
 * Adds the buttons to every <pre> under root (once per block).
 * @param {ParentNode} root
 * @param {{activeTerminal: () => any, copy: (text: string) => Promise<boolean>,
 *   announce?: (msg: string) => void, beforeRun?: () => void}} opts
 */
export function initCodeBlocks(root, opts) {
  const announce = opts.announce || (() => {});
  let n = 0;
  for (const pre of root.querySelectorAll('pre')) {
    if (pre.closest('.code-block')) continue;
    n++;
    const wrap = document.createElement('div');
    wrap.className = 'code-block';
    pre.replaceWith(wrap);
    wrap.appendChild(pre);
    // A scrollable region must be reachable by keyboard (axe: scrollable-region-focusable).
    pre.tabIndex = 0;
    const bar = document.createElement('div');
    bar.className = 'code-bar';
    const copy = button('Copy', 'code-copy', 'Copy this code');
    copy.setAttribute('aria-label', `Copy code block ${n}`);
    copy.addEventListener('click', async () => {
      const ok = await opts.copy(pre.textContent.replace(/\n$/, ''));
      flash(copy, ok ? 'Copied' : 'Copy failed', 'Copy');
      announce(ok ? 'Copied to the clipboard' : 'Could not copy');
    });
    bar.appendChild(copy);
    if (pre.classList.contains(RUN_CLASS)) {
      const run = button('Run', 'code-run-btn', 'Type this into your terminal and press Enter');
      run.setAttribute('aria-label', `Run code block ${n} in your terminal`);
      run.addEventListener('click', () => {
        const view = opts.activeTerminal();
        if (!view || !view.term) {
          flash(run, 'Terminal not ready', 'Run');
          announce('Your terminal is not ready yet');
          return;
        }
        if (opts.beforeRun) opts.beforeRun();
        if (typeIntoTerminal(view.term, pre.textContent)) {
          announce('Sent to your terminal');
          view.term.focus();
        }
      });
      bar.appendChild(run);
    }
    wrap.appendChild(bar);
  }
}
