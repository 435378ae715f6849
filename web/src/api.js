// Small JSON API client: CSRF header, JSON bodies, uniform error messages.

/** Error carrying the server's error message (or a readable fallback). */
export class ApiError extends Error {
  constructor(message, status = 0, code = '', retryAfter = 0) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    /** Seconds the server asked to wait (Retry-After), 0 when it did not. */
    this.retryAfter = retryAfter;
  }
}

/**
 * Seconds of a Retry-After header value (delta-seconds only), 0 when
 * absent or not a number.
 * @param {string|null} value
 */
export function retryAfterSeconds(value) {
  const n = Number.parseInt(value || '', 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The CSRF token from <meta name="csrf-token">, or '' when absent. */
export function csrfToken(doc = globalThis.document) {
  const meta = doc && doc.querySelector('meta[name="csrf-token"]');
  return (meta && meta.getAttribute('content')) || '';
}

/**
 * The human-readable message of an error response body
 * {"error":{"code","message"}}, with a fallback for other bodies.
 * @param {unknown} body parsed JSON body (or null)
 * @param {number} status HTTP status
 * @returns {string}
 */
export function errorMessage(body, status) {
  const err = body && typeof body === 'object' ? body.error : null;
  if (err && typeof err === 'object' && typeof err.message === 'string' && err.message.trim()) {
    return err.message;
  }
  if (typeof err === 'string' && err.trim()) return err;
  if (status === 401) return 'You are signed out. Please sign in again.';
  if (status === 403) return 'Not allowed (your session may have expired — reload the page).';
  if (status === 429) return 'Too many requests — wait a moment and try again.';
  if (status >= 500) return `The server had a problem (HTTP ${status}). Try again in a moment.`;
  return `Request failed (HTTP ${status}).`;
}

function errorCode(body) {
  const err = body && typeof body === 'object' ? body.error : null;
  return err && typeof err === 'object' && typeof err.code === 'string' ? err.code : '';
}

/**
 * POSTs JSON with the CSRF header and returns the parsed JSON response.
 * Throws ApiError with the server's message on a non-2xx status, and with a
 * readable message on network failure or timeout.
 * @param {string} url
 * @param {unknown} [body] sent as JSON; {} when omitted
 * @param {{timeoutMs?: number}} [opts]
 */
export function postJSON(url, body = {}, opts = {}) {
  return requestJSON('POST', url, body ?? {}, opts);
}

/** GETs JSON (same errors as postJSON). */
export function getJSON(url, opts = {}) {
  return requestJSON('GET', url, undefined, opts);
}

/** Sends DELETE with the CSRF header (same errors as postJSON). */
export function deleteJSON(url, opts = {}) {
  return requestJSON('DELETE', url, undefined, opts);
}

/**
 * Sends a request with the CSRF header (and a JSON body when `body` is not
 * undefined) and returns the parsed JSON response (null for an empty one).
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 * @param {{timeoutMs?: number}} [opts]
 */
export async function requestJSON(method, url, body, opts = {}) {
  const ctrl = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = ctrl && opts.timeoutMs ? setTimeout(() => ctrl.abort(), opts.timeoutMs) : null;
  const headers = { Accept: 'application/json', 'X-CSRF-Token': csrfToken() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: ctrl ? ctrl.signal : undefined,
    });
  } catch (e) {
    if (timer) clearTimeout(timer);
    if (e && e.name === 'AbortError') {
      throw new ApiError('The server took too long to answer. Try again.', 0, 'timeout');
    }
    throw new ApiError('Could not reach the server. Check your connection and try again.', 0, 'network');
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    text = '';
  } finally {
    if (timer) clearTimeout(timer);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const retry = res.headers && typeof res.headers.get === 'function' ? retryAfterSeconds(res.headers.get('Retry-After')) : 0;
    throw new ApiError(errorMessage(data, res.status), res.status, errorCode(data), retry);
  }
  return data;
}
