// Typed instructions: shapes of valid instructions and Docker's messages for invalid ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DockerfileError,
  applyChmod,
  parseChmod,
  parseDockerfile,
  parseDuration,
  parseRunMount,
  resolveRunMounts,
  toInstruction,
  type Instruction,
} from '../../../src/dockerfile/index.js';

function one(text: string): Instruction {
  return toInstruction(parseDockerfile(text).instructions[0]!);
}

function all(text: string): Instruction[] {
  return parseDockerfile(text).instructions.map((r) => toInstruction(r));
}

test('FROM with platform and stage name', () => {
  const f = one('FROM --platform=$BUILDPLATFORM golang:1.22 AS Build');
  assert.equal(f.kind, 'FROM');
  if (f.kind !== 'FROM') return;
  assert.equal(f.image, 'golang:1.22');
  assert.equal(f.stageName, 'build');
  assert.equal(f.platform, '$BUILDPLATFORM');
  assert.equal(f.original, 'FROM --platform=$BUILDPLATFORM golang:1.22 AS Build');
});

test('RUN shell and exec forms, mounts, network, security', () => {
  const [shell, exec] = all(
    'RUN --mount=type=cache,target=/root/.cache,id=go,sharing=locked --mount=type=secret,id=tok,env=TOKEN --network=none --security=insecure go build\nRUN ["ls", "-l"]\n',
  );
  assert.ok(shell!.kind === 'RUN' && exec!.kind === 'RUN');
  if (shell!.kind !== 'RUN' || exec!.kind !== 'RUN') return;
  assert.deepEqual(shell.command, { form: 'shell', command: 'go build' });
  assert.deepEqual(exec.command, { form: 'exec', args: ['ls', '-l'] });
  assert.equal(shell.network, 'none');
  assert.equal(shell.security, 'insecure');
  assert.deepEqual(shell.mounts[0], { type: 'cache', target: '/root/.cache', id: 'go', sharing: 'locked', readOnly: false });
  assert.deepEqual(shell.mounts[1], { type: 'secret', id: 'tok', env: 'TOKEN', readOnly: true });
  assert.deepEqual(shell.flagsUsed, ['mount', 'network', 'security']);
  assert.equal(exec.network, 'default');
  assert.equal(exec.security, 'sandbox');
});

test('RUN --mount values with variables are resolved at build time', () => {
  const run = one('RUN --mount=type=cache,target=/c,uid=$UID,id=cache-$TARGETARCH make');
  assert.ok(run.kind === 'RUN');
  if (run.kind !== 'RUN') return;
  assert.equal(run.mounts[0]!.uid, undefined);
  assert.deepEqual(run.mounts[0]!.unresolved, ['uid', 'id']);
  const env: Record<string, string> = { UID: '1000', TARGETARCH: 'arm64' };
  const resolved = resolveRunMounts(run, (w) => w.replace(/\$(\w+)/g, (_, n: string) => env[n] ?? ''));
  assert.deepEqual(resolved[0], { type: 'cache', target: '/c', uid: 1000, id: 'cache-arm64', readOnly: false });
});

test('mount parsing: defaults, errors and suggestions', () => {
  assert.deepEqual(parseRunMount('target=/src'), { type: 'bind', target: '/src', readOnly: true });
  assert.deepEqual(parseRunMount('type=bind,target=/src,rw'), { type: 'bind', target: '/src', readOnly: false });
  assert.deepEqual(parseRunMount('type=tmpfs,target=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 * 2 ** 20, readOnly: false });
  assert.deepEqual(parseRunMount('type=ssh,required'), { type: 'ssh', required: true, readOnly: true });
  assert.deepEqual(parseRunMount('type=bind,src=.,dst=/x,z'), { type: 'bind', source: '.', target: '/x', relabel: 'shared', readOnly: true });
  assert.throws(() => parseRunMount('type=cahce'), /unsupported mount type "cahce" \(did you mean cache\?\)/);
  assert.throws(() => parseRunMount('type=bind,mode=0755'), /mode not allowed for "bind" type mounts/);
  assert.throws(() => parseRunMount('type=secret'), /invalid secret mount/);
  assert.throws(() => parseRunMount('type=bind,from=$STAGE'), /'from' doesn't support variable expansion/);
  assert.throws(() => parseRunMount('target=/x,bogus=1'), /unexpected key 'bogus'/);
  assert.throws(() => parseRunMount('a"b'), /failed to parse csv mounts/);
  assert.deepEqual(parseRunMount('"target=/a,b",type=cache'), { type: 'cache', target: '/a,b', readOnly: false });
});

test('COPY and ADD flags', () => {
  const [copy, add] = all(
    'COPY --from=build --chown=app:app --chmod=u=rwX,go=rX --link --parents --exclude=*.md --exclude=.git src/ ./\n' +
      'ADD --checksum=sha256:abc --keep-git-dir --unpack=false --chmod=0640 https://x/y.tgz /opt/\n',
  );
  assert.ok(copy!.kind === 'COPY' && add!.kind === 'ADD');
  if (copy!.kind !== 'COPY' || add!.kind !== 'ADD') return;
  assert.equal(copy.from, 'build');
  assert.equal(copy.chown, 'app:app');
  assert.equal(copy.chmod, 'u=rwX,go=rX');
  assert.equal(copy.link, true);
  assert.equal(copy.parents, true);
  assert.deepEqual(copy.exclude, ['*.md', '.git']);
  assert.deepEqual(copy.sources, ['src/']);
  assert.equal(copy.dest, './');
  assert.equal(add.checksum, 'sha256:abc');
  assert.equal(add.keepGitDir, true);
  assert.equal(add.unpack, false);
  assert.equal(add.chmod, '0640');
});

test('COPY heredoc sources become inline files', () => {
  const text = 'COPY <<-EOF <<"RAW" /etc/\n\tchomped $X\nEOF\n$Y\nRAW\n';
  const c = one(text);
  assert.ok(c.kind === 'COPY');
  if (c.kind !== 'COPY') return;
  assert.deepEqual(c.sources, []);
  assert.deepEqual(c.sourceContents, [
    { path: 'EOF', data: 'chomped $X\n', expand: true },
    { path: 'RAW', data: '$Y\n', expand: false },
  ]);
});

test('ENV, LABEL, ARG keep values unexpanded', () => {
  const [env, legacy, label, arg] = all('ENV A="x y" B=$A\nENV C c d\nLABEL "k"=v\nARG X Y=1 Z="a b"\n');
  assert.deepEqual(env!.kind === 'ENV' && env!.pairs, [
    { key: 'A', value: '"x y"' },
    { key: 'B', value: '$A' },
  ]);
  assert.deepEqual(legacy!.kind === 'ENV' && legacy!.pairs, [{ key: 'C', value: 'c d', legacy: true }]);
  assert.deepEqual(label!.kind === 'LABEL' && label!.pairs, [{ key: '"k"', value: 'v' }]);
  assert.deepEqual(arg!.kind === 'ARG' && arg!.args, [{ key: 'X' }, { key: 'Y', value: '1' }, { key: 'Z', value: '"a b"' }]);
});

test('CMD/ENTRYPOINT/SHELL/HEALTHCHECK/EXPOSE/VOLUME/USER/WORKDIR/STOPSIGNAL/MAINTAINER', () => {
  const r = all(
    [
      'CMD echo hi',
      'ENTRYPOINT ["/bin/app", "--flag"]',
      'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
      'HEALTHCHECK --interval=1m30s --timeout=3s --start-period=500ms --start-interval=1s --retries=3 CMD curl -f http://localhost/',
      'HEALTHCHECK NONE',
      'EXPOSE 8080/tcp 53/udp 443',
      'VOLUME ["/data", "/logs"]',
      'USER app:app',
      'WORKDIR /srv',
      'STOPSIGNAL SIGINT',
      'MAINTAINER someone',
    ].join('\n'),
  );
  const get = <K extends Instruction['kind']>(k: K) => r.find((i) => i.kind === k) as Extract<Instruction, { kind: K }>;
  assert.deepEqual(get('CMD').command, { form: 'shell', command: 'echo hi' });
  assert.deepEqual(get('ENTRYPOINT').command, { form: 'exec', args: ['/bin/app', '--flag'] });
  assert.deepEqual(get('SHELL').shell, ['/bin/bash', '-o', 'pipefail', '-c']);
  const hcs = r.filter((i) => i.kind === 'HEALTHCHECK');
  assert.deepEqual(hcs[0]!.kind === 'HEALTHCHECK' && hcs[0]!.health, {
    test: ['CMD-SHELL', 'curl -f http://localhost/'],
    interval: 90e9,
    timeout: 3e9,
    startPeriod: 500e6,
    startInterval: 1e9,
    retries: 3,
  });
  assert.deepEqual(hcs[1]!.kind === 'HEALTHCHECK' && hcs[1]!.health, { test: ['NONE'] });
  assert.deepEqual(get('EXPOSE').ports, ['443', '53/udp', '8080/tcp']);
  assert.deepEqual(get('VOLUME').volumes, ['/data', '/logs']);
  assert.equal(get('USER').user, 'app:app');
  assert.equal(get('WORKDIR').path, '/srv');
  assert.equal(get('STOPSIGNAL').signal, 'SIGINT');
  assert.equal(get('MAINTAINER').maintainer, 'someone');
});

test('ONBUILD keeps a typed trigger and the expression text', () => {
  const o = one('ONBUILD COPY --chown=1:1 . /app');
  assert.ok(o.kind === 'ONBUILD');
  if (o.kind !== 'ONBUILD') return;
  assert.equal(o.expression, 'COPY --chown=1:1 . /app');
  assert.equal(o.trigger?.kind, 'COPY');
  const bad = one('ONBUILD FOO bar');
  assert.ok(bad.kind === 'ONBUILD' && bad.trigger === null && /unknown instruction: FOO/.test(bad.triggerError ?? ''));
});

const errors: [string, string][] = [
  ['FROM', 'FROM requires either one or three arguments'],
  ['FROM a b', 'FROM requires either one or three arguments'],
  ['FROM --platfrom=x a', 'unknown flag: --platfrom (did you mean platform?)'],
  ['COPY a', 'COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
  ['COPY --from a b', 'missing a value on flag: --from'],
  ['COPY --link=maybe a b', 'expecting boolean value for flag --link, not: maybe'],
  ['COPY --chown=a --chown=b a b', 'duplicate flag specified: --chown'],
  ['COPY --chmod=999 a b', 'invalid chmod parameter 999'],
  ['COPY a <<EOF\nx\nEOF', 'COPY cannot accept a heredoc as a destination'],
  ['ADD --from=x a b', 'unknown flag: --from'],
  ['RUN --mount=type=bind,target=/x,uid=1 ls', 'uid not allowed for "bind" type mounts'],
  ['RUN --security=open ls', 'security "open" is not valid'],
  ['RUN --bogus ls', 'unknown flag: --bogus'],
  ['CMD --x=y ls', 'unknown flag: --x'],
  ['ENV', 'ENV requires at least one argument'],
  ['ENV =x', 'ENV names can not be blank'],
  ['ARG =x', 'ARG names can not be blank'],
  ['WORKDIR', 'WORKDIR requires exactly one argument'],
  ['VOLUME [""]', 'VOLUME specified can not be an empty string'],
  ['SHELL /bin/sh -c', 'SHELL requires the arguments to be in JSON form'],
  ['SHELL []', 'SHELL requires at least one argument'],
  ['HEALTHCHECK FOO x', 'Unknown type "FOO" in HEALTHCHECK (try CMD)'],
  ['HEALTHCHECK CMD', 'Missing command after HEALTHCHECK CMD'],
  ['HEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments'],
  ['HEALTHCHECK --interval=1us CMD x', 'Interval "interval" cannot be less than 1ms'],
  ['HEALTHCHECK --timeout=5 CMD x', 'time: missing unit in duration "5"'],
  ['HEALTHCHECK --retries=-1 CMD x', '--retries cannot be negative (-1)'],
  ['ONBUILD ONBUILD RUN x', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
  ['ONBUILD MAINTAINER me', "MAINTAINER isn't allowed as an ONBUILD trigger"],
  ['FORM alpine', 'unknown instruction: FORM (did you mean FROM?)'],
  ['xyzzy', 'unknown instruction: xyzzy'],
];

for (const [text, message] of errors) {
  test(`error: ${text.split('\n')[0]}`, () => {
    assert.throws(
      () => one(text),
      (e: unknown) => e instanceof DockerfileError && e.message.startsWith('Dockerfile:1: ') && e.reason.startsWith(message),
    );
  });
}

test('errors carry the line of the instruction and the given file name', () => {
  const raws = parseDockerfile('FROM x\n\nRUN a \\\n  b\nCOPY onlyone\n').instructions;
  assert.throws(
    () => toInstruction(raws[2]!, { filename: 'build/Dockerfile.dev' }),
    (e: unknown) =>
      e instanceof DockerfileError &&
      e.message === 'build/Dockerfile.dev:5: COPY requires at least two arguments, but only one was provided. Destination could not be determined' &&
      e.line === 5 &&
      e.instruction === 'COPY',
  );
});

test('chmod: octal and symbolic', () => {
  assert.equal(applyChmod(parseChmod('0755'), 0o100644, false), 0o100755);
  assert.equal(applyChmod(parseChmod('u=rwX,go=rX'), 0o644, false), 0o644);
  assert.equal(applyChmod(parseChmod('u=rwX,go=rX'), 0o700, true), 0o755);
  assert.equal(applyChmod(parseChmod('a+x'), 0o644, false), 0o755);
  assert.equal(applyChmod(parseChmod('go-w'), 0o666, false), 0o644);
  assert.equal(applyChmod(parseChmod('u+s,+t'), 0o755, false), 0o5755);
  assert.equal(applyChmod(parseChmod('g=u'), 0o640, false), 0o660);
  assert.throws(() => parseChmod('10000'), /invalid chmod parameter/);
  assert.throws(() => parseChmod('u+q'), /invalid chmod parameter/);
});

test('durations like Go', () => {
  assert.equal(parseDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseDuration('250ms'), 250e6);
  assert.equal(parseDuration('1.5µs'), 1500);
  assert.equal(parseDuration('-2s'), -2e9);
  assert.equal(parseDuration('0'), 0);
  assert.throws(() => parseDuration('1d'), /unknown unit "d" in duration "1d"/);
  assert.throws(() => parseDuration(''), /invalid duration/);
});

test('runScript: how RUN with heredocs executes', async () => {
  const { runScript } = await import('../../../src/dockerfile/index.js');
  const runs = all('RUN <<EOF\necho a\nEOF\nRUN <<-EOF\n\t#!/usr/bin/env python3\n\tprint(1)\nEOF\nRUN cat <<A > /f\nx\nA\nRUN ["echo", "b"]\nRUN echo c\n');
  const scripts = runs.map((r) => (r.kind === 'RUN' ? runScript(r) : null));
  assert.deepEqual(scripts, [
    { form: 'shell', command: 'echo a\n' },
    { form: 'file', name: 'EOF', data: '#!/usr/bin/env python3\nprint(1)\n' },
    { form: 'shell', command: 'cat <<A > /f\nx\nA' },
    { form: 'exec', args: ['echo', 'b'] },
    { form: 'shell', command: 'echo c' },
  ]);
});

test('expandHeredoc expands variables and escapes but keeps quotes', async () => {
  const { expandHeredoc } = await import('../../../src/dockerfile/index.js');
  assert.equal(expandHeredoc('"$A" \'${B:-b}\' \\$C\n', { A: 'a' }), '"a" \'b\' $C\n');
});

test('explainPlan summarises stages, references and unused args', async () => {
  const { explainPlan, planBuild } = await import('../../../src/dockerfile/index.js');
  const text = explainPlan(planBuild('FROM a AS build\nRUN make\nFROM b AS unused\nFROM scratch\nCOPY --from=build /x /x\n', { buildArgs: { X: '1' } }));
  assert.match(text, /3 stages, target stage-2; building build -> stage-2/);
  assert.match(text, /stage 1 unused: from image b {2}\[not needed for the target\]/);
  assert.match(text, /COPY --from=build \/x \/x {2}<- stage build/);
  assert.match(text, /build-args \[X\] were not consumed/);
});
