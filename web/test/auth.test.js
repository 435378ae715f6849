import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { safeNext } from '../src/auth.js';
import { postJSON, ApiError, retryAfterSeconds } from '../src/api.js';
import { closeAction, CLOSE } from '../src/protocol.js';

describe('safeNext', () => {
  test('keeps paths on this site', () => {
    for (const p of ['/labs', '/labs/git-basics', '/recordings?page=2#top', '/labs/a%2Db']) {
      assert.equal(safeNext(p), p);
    }
  });

  test('sends every known bypass to /', () => {
    const bad = [
      undefined, null, 42, '', 'evil.example', '//evil.example', '///evil.example', '/\\evil.example',
      '\\\\evil.example', '/\t/evil.example', '/%09/evil.example', '/\n/evil.example', '/\r\n/evil',
      '/ /evil.example', '/%20/evil.example', '/%2F%2Fevil.example', '/%2f/evil.example', '/%5Cevil.example',
      '/labs\\..\\evil', 'https://evil.example', 'http:/evil.example', 'javascript:alert(1)', '\t/labs',
      '/\u0000', '/labs\u007f', '/\u200b/evil.example', '/\u00a0/evil.example', '/\u2028/evil.example',
      '/%E2%80%8B/evil.example', '/%zz', '/' + 'a'.repeat(3000),
    ];
    for (const p of bad) assert.equal(safeNext(p), '/', JSON.stringify(p));
  });
});

describe('429 answers', () => {
  const realFetch = globalThis.fetch;
  afterEach(() => { globalThis.fetch = realFetch; });

  test('ApiError carries Retry-After and the server message', async () => {
    globalThis.fetch = async () => new Response(
      JSON.stringify({ error: { code: 'too_many_requests', message: 'too many failed sign-ins from your network; try again in 10 seconds' } }),
      { status: 429, headers: { 'Retry-After': '10' } },
    );
    await assert.rejects(postJSON('/api/v1/auth/login', {}), (e) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 429);
      assert.equal(e.retryAfter, 10);
      assert.match(e.message, /try again in 10 seconds/);
      return true;
    });
  });

  test('retryAfterSeconds reads delta-seconds only', () => {
    assert.equal(retryAfterSeconds('7'), 7);
    assert.equal(retryAfterSeconds(null), 0);
    assert.equal(retryAfterSeconds('Wed, 21 Oct 2015 07:28:00 GMT'), 0);
    assert.equal(retryAfterSeconds('-3'), 0);
  });
});

describe('4401 signed out', () => {
  test('stops the terminal and says to sign in again', () => {
    const a = closeAction(CLOSE.SIGNED_OUT, { reason: 'signed out' });
    assert.deepEqual([a.action, a.state], ['stop', 'signedout']);
    assert.match(a.text, /sign in again/);
    assert.equal(closeAction(4401, { viewer: true }).action, 'stop');
  });
});
