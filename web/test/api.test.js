import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { errorMessage, postJSON, ApiError, csrfToken } from '../src/api.js';

describe('errorMessage', () => {
  test('uses the server message from {"error":{"code","message"}}', () => {
    assert.equal(
      errorMessage({ error: { code: 'invalid_credentials', message: 'Wrong username or password.' } }, 401),
      'Wrong username or password.',
    );
  });

  test('falls back to a readable message per status', () => {
    assert.match(errorMessage(null, 500), /server had a problem/);
    assert.match(errorMessage({}, 401), /signed out/);
    assert.match(errorMessage({ error: { code: 'x' } }, 404), /HTTP 404/);
    assert.match(errorMessage('not json', 429), /Too many/);
  });
});

describe('csrfToken', () => {
  test('reads the meta tag content, empty when missing', () => {
    const doc = { querySelector: (sel) => (sel === 'meta[name="csrf-token"]' ? { getAttribute: () => 'T0K' } : null) };
    assert.equal(csrfToken(doc), 'T0K');
    assert.equal(csrfToken({ querySelector: () => null }), '');
    assert.equal(csrfToken(undefined), '');
  });
});

describe('postJSON', () => {
  const realFetch = globalThis.fetch;
  afterEach(() => { globalThis.fetch = realFetch; });

  test('sends JSON with the CSRF header and returns the parsed body', async () => {
    let seen;
    globalThis.fetch = async (url, init) => {
      seen = { url, init };
      return new Response(JSON.stringify({ id: 's1', state: 'running' }), { status: 201 });
    };
    const out = await postJSON('/api/v1/labs/l1/session');
    assert.deepEqual(out, { id: 's1', state: 'running' });
    assert.equal(seen.url, '/api/v1/labs/l1/session');
    assert.equal(seen.init.method, 'POST');
    assert.equal(seen.init.body, '{}');
    assert.equal(seen.init.headers['Content-Type'], 'application/json');
    assert.ok('X-CSRF-Token' in seen.init.headers);
  });

  test('throws ApiError with the server message on non-2xx', async () => {
    globalThis.fetch = async () => new Response(
      JSON.stringify({ error: { code: 'quota', message: 'You already have 2 labs running.' } }),
      { status: 409 },
    );
    await assert.rejects(postJSON('/x', {}), (e) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.message, 'You already have 2 labs running.');
      assert.equal(e.status, 409);
      assert.equal(e.code, 'quota');
      return true;
    });
  });

  test('non-JSON error bodies still give a readable message', async () => {
    globalThis.fetch = async () => new Response('<html>bad gateway</html>', { status: 502 });
    await assert.rejects(postJSON('/x'), /server had a problem \(HTTP 502\)/);
  });

  test('network failure becomes an ApiError', async () => {
    globalThis.fetch = async () => { throw new TypeError('fetch failed'); };
    await assert.rejects(postJSON('/x'), (e) => e instanceof ApiError && e.code === 'network');
  });

  test('timeout aborts and becomes an ApiError', async () => {
    globalThis.fetch = (url, init) => new Promise((resolve, reject) => {
      init.signal.addEventListener('abort', () => {
        const err = new Error('aborted');
        err.name = 'AbortError';
        reject(err);
      });
    });
    await assert.rejects(postJSON('/x', {}, { timeoutMs: 20 }), (e) => e instanceof ApiError && e.code === 'timeout');
  });
});
