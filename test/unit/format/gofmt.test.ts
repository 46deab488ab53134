import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MARSHAL_JSON, NIL_SLICE, createdSince, formatG, goJson, goSprintf, goTimeString, humanDuration, humanSize } from '../../../src/cli/format/index.js';

test('formatG matches strconv.FormatFloat(x, g, p, 64)', () => {
  assert.equal(formatG(4.26155, 3), '4.26');
  assert.equal(formatG(5, 3), '5');
  assert.equal(formatG(12.5, 3), '12.5');
  assert.equal(formatG(100, 3), '100');
  assert.equal(formatG(999.9, 3), '1e+03');
  assert.equal(formatG(0.5, 3), '0.5');
  assert.equal(formatG(1e6, -1), '1e+06');
  assert.equal(formatG(123456, -1), '123456');
  assert.equal(formatG(0.0001, -1), '0.0001');
  assert.equal(formatG(0.00001, -1), '1e-05');
  assert.equal(formatG(-2.5, -1), '-2.5');
});

test('humanSize is go-units HumanSizeWithPrecision(n, 3)', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(humanSize(4261550), '4.26MB');
  assert.equal(humanSize(999_900), '1e+03kB');
  assert.equal(humanSize(77_800_000), '77.8MB');
  assert.equal(humanSize(1.5e9), '1.5GB');
});

test('humanDuration is go-units HumanDuration', () => {
  const s = 1000;
  const h = 3600 * s;
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1 * s), '1 second');
  assert.equal(humanDuration(42 * s), '42 seconds');
  assert.equal(humanDuration(61 * s), 'About a minute');
  assert.equal(humanDuration(5 * 60 * s), '5 minutes');
  assert.equal(humanDuration(h), 'About an hour');
  assert.equal(humanDuration(30 * h), '30 hours');
  assert.equal(humanDuration(72 * h), '3 days');
  assert.equal(humanDuration(21 * 24 * h), '3 weeks');
  assert.equal(humanDuration(90 * 24 * h), '3 months');
  assert.equal(humanDuration(800 * 24 * h), '2 years');
  assert.equal(createdSince('2020-01-01T00:00:00Z', Date.parse('2020-01-01T00:00:42Z')), '42 seconds ago');
  assert.equal(createdSince(undefined), 'N/A');
});

test('goJson: Go escaping, indentation, sorted maps, nil markers, raw marshalers', () => {
  assert.equal(goJson({ a: '<&>', b: [1, 'x'], c: NIL_SLICE, d: undefined }), '{"a":"\\u003c\\u0026\\u003e","b":[1,"x"],"c":null}');
  assert.equal(goJson({ a: '<>' }, { escapeHTML: false }), '{"a":"<>"}');
  assert.equal(goJson([{ b: 1, a: {} , c: []}], { indent: '    ' }), '[\n    {\n        "b": 1,\n        "a": {},\n        "c": []\n    }\n]');
  assert.equal(goJson({ b: 1, a: 2 }, { sortKeys: true }), '{"a":2,"b":1}');
  assert.equal(goJson({ x: { [MARSHAL_JSON]: () => '{"raw":"\\u003c"}' } }), '{"x":{"raw":"\\u003c"}}');
  assert.equal(goJson('\u2028'), '"\\u2028"');
});

test('goSprintf and goTimeString', () => {
  assert.equal(goSprintf('%v|%s|%d|%x|%t|%%|%5s|%-5s|', [[1, 'a'], 'str', 42, 255, true, 'r', 'l']), '[1 a]|str|42|ff|true|%|    r|l    |');
  assert.equal(goSprintf('%d', []), '%!d(MISSING)');
  assert.equal(goSprintf('%d', ['x']), '%!d(string=x)');
  assert.equal(goSprintf('a', [1]), 'a%!(EXTRA int=1)');
  assert.equal(goTimeString(new Date('2023-05-19T20:19:27Z')), '2023-05-19 20:19:27 +0000 UTC');
});
