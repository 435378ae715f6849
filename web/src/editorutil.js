// Pure helpers of the editor pane (editor.js), tested with node --test.

/** The language support for a file name ('' when none applies). */
export function languageOf(path) {
  const base = String(path || '').split('/').pop();
  const lower = base.toLowerCase();
  if (base === 'Dockerfile' || base.startsWith('Dockerfile.') || lower.endsWith('.dockerfile')) return 'dockerfile';
  if (lower.endsWith('.yml') || lower.endsWith('.yaml')) return 'yaml';
  if (lower.endsWith('.go')) return 'go';
  if (/\.(sh|bash)$/.test(lower) || ['.bashrc', '.profile', '.bash_profile', '.bash_aliases'].includes(lower)) return 'shell';
  return '';
}

const ERROR_RULES = new Set(['syntax', 'yaml', 'rulefmt', 'promql', 'missing']);

/**
 * CodeMirror diagnostics from lint findings: 1-based line (0: the first
 * line) and column, to the end of the line.
 */
export function toDiagnostics(doc, findings) {
  const out = [];
  for (const f of Array.isArray(findings) ? findings : []) {
    if (!f || typeof f.message !== 'string') continue;
    const n = Math.min(Math.max(Number(f.line) || 1, 1), doc.lines);
    const line = doc.line(n);
    const col = Math.max(Number(f.column) || 1, 1) - 1;
    const from = Math.min(line.from + col, line.to);
    const to = line.to > from ? line.to : Math.min(from + 1, doc.length);
    const rule = String(f.rule || '');
    const severity = ERROR_RULES.has(rule) || rule.startsWith('actionlint/syntax') ? 'error' : 'warning';
    out.push({ from, to, severity, message: f.message, source: rule || undefined });
  }
  return out;
}

/** Nests a flat listing ("a", "a/b") into folders, sorted folders first. */
export function buildTree(entries) {
  const root = { name: '', path: '', type: 'dir', children: new Map() };
  for (const e of Array.isArray(entries) ? entries : []) {
    if (!e || typeof e.path !== 'string' || !e.path) continue;
    const parts = e.path.split('/');
    let node = root;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i];
      const path = parts.slice(0, i + 1).join('/');
      let child = node.children.get(name);
      if (!child) {
        child = { name, path, type: 'dir', children: new Map() };
        node.children.set(name, child);
      }
      if (i === parts.length - 1) child.type = e.type || 'file';
      node = child;
    }
  }
  return root;
}

