import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Text } from '@codemirror/state';
import { languageOf, toDiagnostics, buildTree } from '../src/editorutil.js';

test('languageOf picks highlighting by file name', () => {
  assert.equal(languageOf('app/Dockerfile'), 'dockerfile');
  assert.equal(languageOf('Dockerfile.dev'), 'dockerfile');
  assert.equal(languageOf('repo/.github/workflows/ci.yml'), 'yaml');
  assert.equal(languageOf('rules/http.yaml'), 'yaml');
  assert.equal(languageOf('main.go'), 'go');
  assert.equal(languageOf('run.sh'), 'shell');
  assert.equal(languageOf('.bashrc'), 'shell');
  assert.equal(languageOf('notes.txt'), '');
  assert.equal(languageOf(''), '');
});

test('toDiagnostics maps findings to line ranges, clamped to the document', () => {
  const doc = Text.of(['FROM golang:latest', 'COPPY . .', '']);
  const d = toDiagnostics(doc, [
    { line: 2, rule: 'syntax', message: 'unknown instruction' },
    { line: 1, column: 6, rule: 'pinned-base', message: 'pin it' },
    { line: 99, rule: 'x', message: 'past the end' },
    { line: 0, message: 'no line' },
    null,
    { line: 1 },
  ]);
  assert.equal(d.length, 4);
  assert.deepEqual([d[0].from, d[0].to, d[0].severity], [19, 28, 'error']);
  assert.deepEqual([d[1].from, d[1].to, d[1].severity], [5, 18, 'warning']);
  assert.equal(d[2].from, doc.length); // the last line
  assert.equal(d[3].from, 0);
  for (const x of d) assert.ok(x.from >= 0 && x.to <= doc.length && x.from <= x.to);
  assert.deepEqual(toDiagnostics(doc, 'nonsense'), []);
});

test('buildTree nests a flat listing', () => {
  const root = buildTree([
    { path: 'app', type: 'dir' },
    { path: 'app/Dockerfile', type: 'file' },
    { path: 'app/cmd/main.go', type: 'file' },
    { path: 'link', type: 'link' },
    { path: '', type: 'file' },
    'junk',
  ]);
  assert.deepEqual([...root.children.keys()].sort(), ['app', 'link']);
  const app = root.children.get('app');
  assert.equal(app.type, 'dir');
  assert.equal(app.children.get('Dockerfile').path, 'app/Dockerfile');
  assert.equal(app.children.get('cmd').children.get('main.go').type, 'file');
  assert.equal(root.children.get('link').type, 'link');
});
