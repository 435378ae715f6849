import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanLeft, formFields } from '../src/cohorts.js';

test('humanLeft rounds down to whole minutes and never goes negative', () => {
  assert.equal(humanLeft(-5), 'ending now');
  assert.equal(humanLeft(0), 'ending now');
  assert.equal(humanLeft(59_999), 'under a minute left');
  assert.equal(humanLeft(42 * 60_000 + 59_000), '42 min left');
  assert.equal(humanLeft(65 * 60_000), '1 h 05 min left');
  assert.equal(humanLeft(Number.NaN), 'ending now');
});

test('formFields sends named, enabled fields as strings, checked boxes only', () => {
  const form = {
    elements: [
      { name: 'name', value: 'Class A', type: 'text' },
      { name: 'seats', value: 25, type: 'number' },
      { name: '', value: 'nameless', type: 'text' },
      { name: 'off', value: 'x', type: 'text', disabled: true },
      { name: 'box', value: 'on', type: 'checkbox', checked: false },
      { name: 'box2', value: 'on', type: 'checkbox', checked: true },
    ],
  };
  assert.deepEqual(formFields(form), { name: 'Class A', seats: '25', box2: 'on' });
});
