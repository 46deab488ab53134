// Parser cases written for kiln: each Dockerfile is dumped in BuildKit's s-expression style
// (lower-cased keyword, flags, Go-quoted args) and compared with the expected dump, plus
// line ranges, warnings, directives, heredocs and errors with file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerfileError, parseDockerfile, parseWords, type RawInstruction } from '../../../src/dockerfile/index.js';

function q(s: string): string {
  return JSON.stringify(s);
}

function dumpNode(n: RawInstruction): string {
  let s = n.keyword.toLowerCase();
  if (n.flags.length) s += ' [' + n.flags.map(q).join(' ') + ']';
  if (n.next) s += ' (' + dumpNode(n.next) + ')';
  else for (const a of n.args) s += ' ' + q(a);
  return s;
}

function dump(text: string): string[] {
  return parseDockerfile(text).instructions.map((n) => '(' + dumpNode(n) + ')');
}

const golden: [string, string, string[]][] = [
  ['shell and exec form', 'FROM alpine\nRUN echo hi\nCMD ["sh", "-c", "x"]\n', ['(from "alpine")', '(run "echo hi")', '(cmd "sh" "-c" "x")']],
  ['invalid JSON is shell form', 'CMD ["a", \'b\']\n', ['(cmd "[\\"a\\", \'b\']")']],
  ['empty JSON array', 'ENTRYPOINT []\n', ['(entrypoint)']],
  ['keyword case kept, dumped lower', 'from x\nRun true\n', ['(from "x")', '(run "true")']],
  ['unknown instruction kept', 'FROM x\nFROOM y z\n', ['(from "x")', '(froom "")']],
  ['COPY splits on whitespace, quotes literal', 'COPY "a b" c\n', ['(copy "\\"a" "b\\"" "c")']],
  ['COPY json form', 'COPY ["a b", "c"]\n', ['(copy "a b" "c")']],
  ['flags with quotes removed', 'COPY --chown="u g" --from=x\\y a b\n', ['(copy ["--chown=u g" "--from=xy"] "a" "b")']],
  ['-- ends flags', 'COPY --link -- --weird dest\n', ['(copy ["--link"] "--weird" "dest")']],
  ['ENV new form keeps quotes', 'ENV A="x y" B=z\n', ['(env "A" "\\"x y\\"" "=" "B" "z" "=")']],
  ['ENV legacy form', 'ENV NAME the whole  rest\n', ['(env "NAME" "the whole  rest" "")']],
  ['LABEL', 'LABEL a=1 "b c"=2\n', ['(label "a" "1" "=" "\\"b c\\"" "2" "=")']],
  ['ARG words', 'ARG a b="c d" e=\n', ['(arg "a" "b=\\"c d\\"" "e=")']],
  ['EXPOSE words', 'EXPOSE 80/tcp   443\n', ['(expose "80/tcp" "443")']],
  ['USER is one string', 'USER a b\n', ['(user "a b")']],
  ['HEALTHCHECK', 'HEALTHCHECK --interval=5s CMD ["curl", "x"]\nHEALTHCHECK NONE\n', ['(healthcheck ["--interval=5s"] "CMD" "curl" "x")', '(healthcheck "NONE")']],
  ['ONBUILD nests', 'ONBUILD RUN --mount=type=cache,target=/c make\n', ['(onbuild (run ["--mount=type=cache,target=/c"] "make"))']],
  ['comment only at line start', 'RUN echo a # not a comment\n# a comment\nRUN b\n', ['(run "echo a # not a comment")', '(run "b")']],
  ['continuation keeps indentation', 'RUN a \\\n    b\n', ['(run "a     b")']],
  ['comment and blank lines inside continuation', 'RUN a \\\n# c\n\n  b\n', ['(run "a   b")']],
  ['escaped escape does not continue', 'ENV A=x\\\\\nENV B=y\n', ['(env "A" "x\\\\\\\\" "=")', '(env "B" "y" "=")']],
  ['continuation at EOF', 'RUN a \\', ['(run "a")']],
  ['backtick escape', '# escape=`\nRUN a `\n b\nENV P C:\\dir\n', ['(run "a  b")', '(env "P" "C:\\\\dir" "")']],
  ['CRLF line endings', 'FROM x\r\nRUN y\r\n', ['(from "x")', '(run "y")']],
  ['BOM dropped', '\ufeffFROM x\n', ['(from "x")']],
];

for (const [name, text, want] of golden) {
  test(`parser golden: ${name}`, () => {
    assert.deepEqual(dump(text), want);
  });
}

test('line ranges include continuation, comment and heredoc lines', () => {
  const text = ['', 'FROM x', '', 'RUN a \\', '  # c', '', '  b', 'COPY <<EOF /f', 'hello', 'EOF', 'CMD z'].join('\n');
  const r = parseDockerfile(text);
  assert.deepEqual(
    r.instructions.map((n) => [n.startLine, n.endLine]),
    [
      [2, 2],
      [4, 7],
      [8, 10],
      [11, 11],
    ],
  );
});

test('empty continuation lines warn once per instruction, comment lines do not', () => {
  const r = parseDockerfile('FROM x\nRUN a \\\n\n  b \\\n\n  c\nRUN d \\\n# only a comment\n  e\n');
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!.message, /Empty continuation line found in: RUN a {3}b {3}c/);
  assert.equal(r.warnings[0]!.line, 2);
});

test('directives: recognised only in the leading comments, once each', () => {
  const r = parseDockerfile('# syntax = docker/dockerfile:1\n#CHECK=skip=all\n# escape=`\nFROM x\n');
  assert.deepEqual(r.directives, { syntax: 'docker/dockerfile:1', check: 'skip=all', escape: '`' });
  assert.equal(r.escapeChar, '`');
  // After an ordinary comment, a directive is just a comment.
  const late = parseDockerfile('# hello\n# escape=`\nFROM x\n');
  assert.deepEqual(late.directives, {});
  assert.equal(late.escapeChar, '\\');
  assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM x\n'), /only one escape parser directive can be used/);
  assert.throws(() => parseDockerfile('# escape=x\nFROM x\n'), /invalid escape token/);
});

test('heredocs: bodies, chomp, quoting, file descriptors, several per line', () => {
  const text = [
    'FROM x',
    'RUN <<EOF',
    'echo $HOME',
    'EOF',
    'RUN 3<<-"END" cat',
    '\tquoted',
    '\tEND',
    'COPY <<A <<B /dest/',
    'a',
    'A',
    'b',
    'B',
    'RUN ["<<NOPE"]',
    'USER <<NOT',
  ].join('\n');
  const r = parseDockerfile(text);
  const [, run, run2, copy, json, user] = r.instructions;
  assert.deepEqual(run!.heredocs, [{ name: 'EOF', content: 'echo $HOME\n', expand: true, chomp: false, fileDescriptor: 0 }]);
  assert.deepEqual(run2!.heredocs, [{ name: 'END', content: '\tquoted\n', expand: false, chomp: true, fileDescriptor: 3 }]);
  assert.deepEqual(
    copy!.heredocs.map((h) => [h.name, h.content]),
    [
      ['A', 'a\n'],
      ['B', 'b\n'],
    ],
  );
  assert.deepEqual(json!.heredocs, []);
  assert.deepEqual(user!.heredocs, []);
});

test('heredoc inside ONBUILD is attached to the ONBUILD instruction', () => {
  const r = parseDockerfile('FROM x\nONBUILD RUN <<EOF\nls\nEOF\nCMD y\n');
  assert.equal(r.instructions.length, 3);
  assert.equal(r.instructions[1]!.heredocs[0]!.content, 'ls\n');
  assert.equal(r.instructions[1]!.next!.heredocs[0]!.name, 'EOF');
});

test('errors name the file and the line', () => {
  const cases: [string, RegExp][] = [
    ['', /^Dockerfile:1: file with no instructions$/],
    ['# just a comment\n\n', /file with no instructions/],
    ['FROM x\nENV PATH\n', /^Dockerfile:2: ENV must have two arguments$/],
    ['FROM x\nENV a=b c\n', /^Dockerfile:2: Syntax error - can't find = in "c". Must be of the form: name=value$/],
    ['FROM x\n\nCMD ["a", 1]\n', /^Dockerfile:3: when using JSON array syntax, arrays must be comprised of strings only$/],
    ['FROM x\nRUN <<EOF\nnever closed\n', /^Dockerfile:2: unterminated heredoc$/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseDockerfile(text), (e: unknown) => e instanceof DockerfileError && re.test(e.message));
  }
  assert.throws(
    () => parseDockerfile('FROM x\nENV PATH\n', { filename: 'app/Containerfile' }),
    (e: unknown) => e instanceof DockerfileError && e.file === 'app/Containerfile' && e.line === 2 && e.instruction === 'ENV',
  );
});

test('64 KiB line limit counts UTF-8 bytes', () => {
  const ok = 'FROM x\nLABEL a=' + 'b'.repeat(65535 - 'LABEL a='.length) + '\n';
  assert.equal(parseDockerfile(ok).instructions.length, 2);
  const tooLong = 'FROM x\nLABEL a=' + 'é'.repeat(40000) + '\n';
  assert.throws(() => parseDockerfile(tooLong), /Dockerfile:2: dockerfile line greater than max allowed size of 65535$/);
});

test('doc comments are kept with the instruction they precede', () => {
  const r = parseDockerfile('# foo sets foo\nARG foo=1\n\n# stray\n\nFROM x\n');
  assert.deepEqual(r.instructions[0]!.comments, ['foo sets foo']);
  assert.deepEqual(r.instructions[1]!.comments, []);
});

test('parseWords keeps quotes and escapes', () => {
  assert.deepEqual(parseWords('a\\ b "c d" \'e f\' g'), ['a\\ b', '"c d"', "'e f'", 'g']);
  assert.deepEqual(parseWords('x\\'), ['x']);
  assert.deepEqual(parseWords('""'), ['""']);
});

test('property: any text parses, converts and plans or fails with a DockerfileError, never a crash', async () => {
  const fc = (await import('fast-check')).default;
  const { toInstruction, planBuild } = await import('../../../src/dockerfile/index.js');
  const piece = fc.constantFrom(
    'FROM ', 'RUN ', 'COPY ', 'ADD ', 'ENV ', 'ARG ', 'LABEL ', 'ONBUILD ', 'HEALTHCHECK ', 'CMD ', 'SHELL ', 'USER ',
    'x', '=', '"', "'", '\\', '`', '$', '{', '}', '[', ']', ',', ' ', '\t', '\n', '\r\n', '#', '# escape=`\n',
    '<<EOF', '<<-"E"', 'EOF\n', '--mount=', '--from=', 'type=cache', '--', '-', '1', 'CMD', 'NONE',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      const text = parts.join('');
      try {
        for (const raw of parseDockerfile(text).instructions) {
          try {
            toInstruction(raw);
          } catch (e) {
            if (!(e instanceof DockerfileError)) throw e;
          }
        }
      } catch (e) {
        if (!(e instanceof DockerfileError)) throw e;
      }
      try {
        planBuild(text, { buildArgs: { x: '1' } });
      } catch (e) {
        if (!(e instanceof DockerfileError)) throw e;
      }
    }),
    { numRuns: 500 },
  );
});
