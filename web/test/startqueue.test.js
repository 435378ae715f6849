import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startWithQueue, queueMessage } from '../src/startqueue.js';

describe('startWithQueue', () => {
  test('asks again while queued, shows each place, returns the session', async () => {
    const answers = [
      { queued: true, position: 3 },
      { queued: true, position: 1 },
      { id: 's1', state: 'running' },
    ];
    let asks = 0;
    const seen = [];
    const s = await startWithQueue(async () => answers[asks++], (q) => seen.push(q.position), { pauseMs: 0 });
    assert.deepEqual(s, { id: 's1', state: 'running' });
    assert.equal(asks, 3);
    assert.deepEqual(seen, [3, 1]);
  });

  test('gives up after a bounded number of asks', async () => {
    await assert.rejects(
      startWithQueue(async () => ({ queued: true, position: 2 }), () => {}, { maxAsks: 3, pauseMs: 0 }),
      /did not start/,
    );
  });

  test('passes errors through', async () => {
    await assert.rejects(startWithQueue(async () => { throw new Error('boom'); }, () => {}), /boom/);
  });
});

describe('queueMessage', () => {
  test('names the place', () => {
    assert.match(queueMessage(1), /next in line/);
    assert.match(queueMessage(7), /number 7 in line/);
    assert.match(queueMessage(0), /waiting/);
  });
});
