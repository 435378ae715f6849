// Backticks in check messages, findings and hints (plain text from the
// server) shown as inline code, like markdown does, without ever parsing
// HTML: every piece becomes a text node.

/**
 * Splits text at backtick pairs: [{code: false, text}, {code: true, text}, ...].
 * An unpaired backtick stays literal text; empty `` pairs stay literal too.
 * @param {unknown} value
 * @returns {{code: boolean, text: string}[]}
 */
export function splitInlineCode(value) {
  const text = value === null || value === undefined ? '' : String(value);
  const out = [];
  let plain = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('`', i);
    if (open < 0) break;
    const close = text.indexOf('`', open + 1);
    if (close < 0) break;
    if (close === open + 1) { // `` is not code
      plain += text.slice(i, close + 1);
      i = close + 1;
      continue;
    }
    plain += text.slice(i, open);
    if (plain) out.push({ code: false, text: plain });
    plain = '';
    out.push({ code: true, text: text.slice(open + 1, close) });
    i = close + 1;
  }
  plain += text.slice(i);
  if (plain) out.push({ code: false, text: plain });
  return out;
}

/**
 * Appends text to el with `code` spans as <code> elements (text nodes only).
 * @param {HTMLElement} el
 * @param {unknown} value
 */
export function appendInlineCode(el, value) {
  const doc = el.ownerDocument;
  for (const part of splitInlineCode(value)) {
    if (part.code) {
      const c = doc.createElement('code');
      c.textContent = part.text;
      el.appendChild(c);
    } else {
      el.appendChild(doc.createTextNode(part.text));
    }
  }
  return el;
}
