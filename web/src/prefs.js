// Terminal preferences kept in localStorage (pure; unit-tested under Node).

export const FONT_SIZE_KEY = 'opsdojo.terminal.fontSize';
export const FONT_SIZE_DEFAULT = 15;
export const FONT_SIZE_MIN = 9;
export const FONT_SIZE_MAX = 32;

/** Clamps a font size to the allowed range (default for junk). */
export function clampFontSize(n) {
  const v = Number(n);
  if (!Number.isFinite(v)) return FONT_SIZE_DEFAULT;
  return Math.max(FONT_SIZE_MIN, Math.min(FONT_SIZE_MAX, Math.round(v)));
}

function storage(s) {
  if (s !== undefined) return s;
  try {
    return globalThis.localStorage || null;
  } catch {
    return null; // blocked storage (privacy settings) throws on access
  }
}

/** The saved font size, or the default. */
export function loadFontSize(store) {
  const s = storage(store);
  try {
    const raw = s ? s.getItem(FONT_SIZE_KEY) : null;
    return raw === null ? FONT_SIZE_DEFAULT : clampFontSize(raw);
  } catch {
    return FONT_SIZE_DEFAULT;
  }
}

/** Saves a font size (clamped) and returns what was saved. */
export function saveFontSize(n, store) {
  const v = clampFontSize(n);
  const s = storage(store);
  try {
    if (s) s.setItem(FONT_SIZE_KEY, String(v));
  } catch {
    // full or blocked storage: the size still applies to this page
  }
  return v;
}

/** The next font size one step smaller (dir -1) or larger (dir +1). */
export function stepFontSize(current, dir) {
  const step = current >= 20 ? 2 : 1;
  return clampFontSize(current + (dir < 0 ? -step : step));
}
