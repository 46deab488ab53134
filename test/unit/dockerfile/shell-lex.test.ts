// Expansion table written for kiln, plus property-based checks of the expander.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { processWord, processWords, ShellLexError } from '../../../src/dockerfile/index.js';

const env = { HOME: '/root', EMPTY: '', NAME: 'kiln', PATHS: '/a/b/c.tar.gz', SPACED: ' x  y ' };

const table: [string, string | Error][] = [
  ['plain', 'plain'],
  ['$HOME', '/root'],
  ['${HOME}/bin', '/root/bin'],
  ['$HOMEx', ''],
  ['${HOME}x', '/rootx'],
  ['$1abc', 'abc'],
  ['$', '$'],
  ['a$.b', 'a$.b'],
  ['${UNSET:-dflt}', 'dflt'],
  ['${EMPTY:-dflt}', 'dflt'],
  ['${EMPTY-dflt}', ''],
  ['${NAME:+set}', 'set'],
  ['${EMPTY:+set}', ''],
  ['${EMPTY+set}', 'set'],
  ['${UNSET+set}', ''],
  ['${NAME:?msg}', 'kiln'],
  ['${UNSET:?must be set}', new ShellLexError('UNSET: must be set')],
  ['${EMPTY:?}', new ShellLexError('EMPTY: is not allowed to be empty')],
  ['${PATHS#*/}', 'a/b/c.tar.gz'],
  ['${PATHS##*/}', 'c.tar.gz'],
  ['${PATHS%.*}', '/a/b/c.tar'],
  ['${PATHS%%.*}', '/a/b/c'],
  ['${PATHS/b/B}', '/a/B/c.tar.gz'],
  ['${PATHS//\\//_}', '_a_b_c.tar.gz'],
  ['${NAME//?/x}', 'xxxx'],
  ['${NAME/#k/K}', 'kiln'], // '#' is not an anchor here: the pattern is "#k"
  ['"$HOME"', '/root'],
  ["'$HOME'", '$HOME'],
  ['\\$HOME', '$HOME'],
  ['"a\\tb"', 'a\\tb'],
  ['"a\\"b"', 'a"b'],
  ['a\\ b', 'a b'],
  ['${UNSET:-"quoted value"}', 'quoted value'],
  ['${UNSET:-${NAME}}', 'kiln'],
  ['${}', new ShellLexError('bad substitution')],
  ['${NAME', new ShellLexError("missing '}'")],
  ['${NAME:=x}', new ShellLexError('unsupported modifier')],
  ['"unterminated', new ShellLexError('double-quote')],
  ["'unterminated", new ShellLexError('single-quote')],
];

for (const [input, want] of table) {
  test(`processWord ${input}`, () => {
    if (want instanceof Error) {
      assert.throws(() => processWord(input, env), (e: unknown) => e instanceof ShellLexError && e.message.includes(want.message));
    } else {
      assert.equal(processWord(input, env).result, want);
    }
  });
}

test('processWord reports matched and unmatched names', () => {
  const r = processWord('$HOME ${UNSET:-$NAME} ${EMPTY}', env);
  assert.equal(r.result, '/root kiln ');
  assert.deepEqual(r.matched, ['EMPTY', 'HOME', 'NAME']);
  assert.deepEqual(r.unmatched, ['UNSET']);
});

test('backtick escape character', () => {
  assert.equal(processWord('a`$HOME', env, { escapeChar: '`' }).result, 'a$HOME');
  assert.equal(processWord('C:\\dir', env, { escapeChar: '`' }).result, 'C:\\dir');
});

test('processWords splits after expansion only on unquoted whitespace', () => {
  assert.deepEqual(processWords('a${SPACED}b', env), ['a', 'x', 'y', 'b']);
  assert.deepEqual(processWords('"a${SPACED}b" c', env), ['a x  y b', 'c']);
  assert.deepEqual(processWords('a\\ b  c', env), ['a b', 'c']);
  assert.deepEqual(processWords('pre${UNSET:-x y}post', env), ['prex', 'ypost']);
  assert.deepEqual(processWords('  ', env), []);
});

test('maps are accepted as environments', () => {
  assert.equal(processWord('$A', new Map([['A', 'b']])).result, 'b');
  assert.equal(processWord('$constructor', {}).result, '');
});

// ---------------------------------------------------------------------------------------
// properties

const safeChar = fc.constantFrom(...'abcXYZ019_-./:=@+,~ '.split(''));
const safeWord = fc.string({ unit: safeChar });
const varName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
const value = fc.string({ unit: fc.constantFrom(...'ab c/$*\'"\\'.split('')) });

test('property: a word without $, quotes or escapes expands to itself', () => {
  fc.assert(
    fc.property(safeWord, (w) => {
      assert.equal(processWord(w, {}).result, w);
    }),
  );
});

test('property: ${V:-x} on an unset V is x; ${V} with V set is its value, verbatim', () => {
  fc.assert(
    fc.property(varName, safeWord, value, (name, dflt, v) => {
      assert.equal(processWord(`\${${name}:-${dflt}}`, {}).result, dflt);
      const r = processWord(`\${${name}}`, { [name]: v });
      assert.equal(r.result, v);
      assert.deepEqual(r.matched, [name]);
    }),
  );
});

test('property: single quotes make any text literal', () => {
  const noQuote = fc.string({ unit: fc.constantFrom(...'ab $\\"{}'.split('')) });
  fc.assert(
    fc.property(noQuote, (s) => {
      assert.equal(processWord(`'${s}'`, { a: 'X' }).result, s);
    }),
  );
});

test('property: processWords of safe words joined by spaces gives the words back', () => {
  const token = fc.string({ unit: fc.constantFrom(...'abc019_-./:'.split('')), minLength: 1 });
  fc.assert(
    fc.property(fc.array(token, { maxLength: 6 }), (words) => {
      assert.deepEqual(processWords(words.join('  '), {}), words);
    }),
  );
});

test('property: ${V#p} and ${V%p} only ever remove a prefix or a suffix', () => {
  const pat = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), maxLength: 4 });
  const val = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 8 });
  fc.assert(
    fc.property(val, pat, (v, p) => {
      const pre = processWord(`\${V#${p}}`, { V: v }).result;
      const preG = processWord(`\${V##${p}}`, { V: v }).result;
      const suf = processWord(`\${V%${p}}`, { V: v }).result;
      const sufG = processWord(`\${V%%${p}}`, { V: v }).result;
      assert.ok(v.endsWith(pre) && v.endsWith(preG) && preG.length <= pre.length);
      assert.ok(v.startsWith(suf) && v.startsWith(sufG) && sufG.length <= suf.length);
    }),
  );
});
