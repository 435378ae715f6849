// Terminal tab names (pure; unit-tested under Node).

/** At most this many terminals per lab session (docs/terminal-protocol.md). */
export const MAX_TABS = 5;
/** The first tab. */
export const MAIN_TAB = 'main';

const NAME_RE = /^[A-Za-z0-9-]{1,32}$/;

/** Whether a tab name is acceptable: letters, digits and '-'. */
export function validTabName(name) {
  return typeof name === 'string' && NAME_RE.test(name);
}

/**
 * The name of a new tab: the lowest free t2, t3, ...
 * @param {Iterable<string>} existing
 * @returns {string|null} null when MAX_TABS are open
 */
export function nextTabName(existing) {
  const names = new Set(existing);
  if (names.size >= MAX_TABS) return null;
  for (let i = 2; ; i++) {
    const n = `t${i}`;
    if (!names.has(n)) return n;
  }
}

/**
 * The tab names in a GET /api/v1/sessions/{id}/terminals reply. Accepts a
 * list of names or of objects ({tab} or {name}), bare or under "terminals"
 * or "tabs". main comes first; invalid names and duplicates are dropped;
 * at most MAX_TABS.
 * @param {unknown} body parsed JSON
 * @returns {string[]}
 */
export function tabsFromList(body) {
  let list = body;
  if (list && typeof list === 'object' && !Array.isArray(list)) {
    list = Array.isArray(list.terminals) ? list.terminals : Array.isArray(list.tabs) ? list.tabs : [];
  }
  if (!Array.isArray(list)) return [MAIN_TAB];
  const out = [MAIN_TAB];
  for (const item of list) {
    let name = item;
    if (item && typeof item === 'object') name = typeof item.tab === 'string' ? item.tab : item.name;
    if (!validTabName(name) || out.includes(name)) continue;
    if (out.length >= MAX_TABS) break;
    out.push(name);
  }
  return out;
}
