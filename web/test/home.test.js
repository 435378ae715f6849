import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatLeft, formatBytes, homeText } from '../src/home.js';

describe('formatLeft', () => {
  test('seconds, minutes, hours', () => {
    assert.equal(formatLeft(45_000), '45 s');
    assert.equal(formatLeft(9 * 60_000), '9 min');
    assert.equal(formatLeft(112 * 60_000), '1 h 52 min');
    assert.equal(formatLeft(-5), '0 s');
  });
});

describe('homeText', () => {
  test('off: nothing', () => {
    assert.equal(homeText({ enabled: false }), '');
  });
  test('a refused save says why', () => {
    const t = homeText({ enabled: true, saved: { bytes: 3 << 20, at: '2026-01-01T00:00:00Z' },
      last_attempt: { reason: 'the home folder holds more than 200 MiB of files (the limit)' } });
    assert.match(t, /3\.0 MiB/);
    assert.match(t, /more than 200 MiB/);
  });
  test('a failed restore is shown', () => {
    assert.match(homeText({ enabled: true, restored: { error: 'could not be restored' } }), /could not be restored/);
  });
  test('formatBytes', () => {
    assert.equal(formatBytes(512), '512 bytes');
  });
});
