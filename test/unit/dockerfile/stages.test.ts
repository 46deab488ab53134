// Stage graph: global args, stage references, --target pruning and ordering, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerfileError, planBuild, resolveStageArg, type ArgInstruction } from '../../../src/dockerfile/index.js';

const multi = `
ARG GO=1.22
ARG BASE=alpine:3.19
FROM golang:\${GO} AS build
RUN go build -o /out/app
FROM \${BASE} AS runtime-base
RUN apk add ca-certificates
FROM build AS test
RUN go test ./...
FROM runtime-base
COPY --from=build /out/app /usr/bin/app
COPY --from=docs /index.html /srv/
FROM scratch AS docs
COPY index.html /
`;

test('stages, bases and references', () => {
  const plan = planBuild(multi);
  assert.deepEqual(
    plan.allStages.map((s) => [s.index, s.name, s.baseName, s.base]),
    [
      [0, 'build', 'golang:1.22', { kind: 'image', ref: 'golang:1.22' }],
      [1, 'runtime-base', 'alpine:3.19', { kind: 'image', ref: 'alpine:3.19' }],
      [2, 'test', 'build', { kind: 'stage', index: 0 }],
      [3, undefined, 'runtime-base', { kind: 'stage', index: 1 }],
      [4, 'docs', 'scratch', { kind: 'scratch' }],
    ],
  );
  const final = plan.allStages[3]!;
  assert.deepEqual(final.dependsOn, [0, 1, 4]);
  assert.deepEqual(
    final.references.map((r) => [r.instruction, r.from, r.source]),
    [
      [0, 'build', { kind: 'stage', index: 0 }],
      [1, 'docs', { kind: 'stage', index: 4 }],
    ],
  );
  // Default target is the last stage; it needs build, runtime-base and docs, not test.
  assert.equal(plan.target.index, 4);
  assert.deepEqual(
    plan.stages.map((s) => s.index),
    [4],
  );
});

test('--target keeps only what the target needs, dependencies first', () => {
  const plan = planBuild(multi, { target: 'TEST' });
  assert.equal(plan.target.name, 'test');
  assert.deepEqual(
    plan.stages.map((s) => s.index),
    [0, 2],
  );
  const text = multi.replace(/FROM scratch AS docs\nCOPY index.html \/\n$/, '');
  const withoutDocs = text + 'FROM scratch AS docs\nCOPY index.html /\nFROM runtime-base AS final\nCOPY --from=3 /usr/bin/app /app\n';
  const p2 = planBuild(withoutDocs);
  assert.deepEqual(
    p2.stages.map((s) => s.displayName),
    ['build', 'runtime-base', 'docs', 'stage-3', 'final'],
  );
});

test('build args override global defaults; unused ones are reported', () => {
  const plan = planBuild(multi, { buildArgs: { GO: '1.21', NOPE: 'x', HTTP_PROXY: 'http://p' } });
  assert.equal(plan.allStages[0]!.baseName, 'golang:1.21');
  assert.deepEqual(plan.globalArgs, [
    { key: 'GO', value: '1.21', line: 2 },
    { key: 'BASE', value: 'alpine:3.19', line: 3 },
  ]);
  assert.deepEqual(plan.unusedBuildArgs, ['NOPE']);
});

test('platform args are predefined in the global scope', () => {
  const plan = planBuild('FROM --platform=$BUILDPLATFORM tools-$TARGETARCH AS t\nFROM t\n', { targetPlatform: 'linux/arm64' });
  assert.equal(plan.allStages[0]!.baseName, 'tools-arm64');
  assert.equal(plan.allStages[0]!.platform, 'linux/amd64');
  assert.equal(plan.platformArgs.TARGETPLATFORM, 'linux/arm64');
  assert.equal(plan.globalScope.TARGETVARIANT, '');
  const arm = planBuild('FROM x\n', { targetPlatform: 'armhf' });
  assert.equal(arm.platformArgs.TARGETPLATFORM, 'linux/arm/v7');
});

test('global args expand in order and see earlier ones', () => {
  const plan = planBuild('ARG A=a\nARG B=${A}-b\nARG C\nFROM img:${B}${C:-c}\n');
  assert.equal(plan.allStages[0]!.baseName, 'img:a-bc');
  assert.deepEqual(plan.globalArgs[2], { key: 'C', line: 3 });
});

test('ARG inside a stage: build arg, default, global value, platform value', () => {
  const plan = planBuild('ARG V=global\nARG W\nFROM x\nARG V\nARG W\nARG D=$HOME/d\nARG TARGETOS\n', { buildArgs: {} });
  const args = plan.allStages[0]!.instructions.filter((i): i is ArgInstruction => i.kind === 'ARG').map((i) => i.args[0]!);
  const env = { HOME: '/root' };
  assert.equal(resolveStageArg(plan, args[0]!, env), 'global');
  assert.equal(resolveStageArg(plan, args[1]!, env), undefined);
  assert.equal(resolveStageArg(plan, args[2]!, env), '/root/d');
  assert.equal(resolveStageArg(plan, args[3]!, env), 'linux');
  const withArg = planBuild('FROM x\nARG V=1\n', { buildArgs: { V: '2' } });
  const def = (withArg.allStages[0]!.instructions[0] as ArgInstruction).args[0]!;
  assert.equal(resolveStageArg(withArg, def, {}), '2');
  assert.deepEqual(withArg.unusedBuildArgs, []);
});

test('stage names may use global args (as in Podman) and are validated after expansion', () => {
  const plan = planBuild('ARG N=First\nFROM x AS ${N}\nFROM first\n');
  assert.equal(plan.allStages[0]!.name, 'first');
  assert.deepEqual(plan.allStages[1]!.base, { kind: 'stage', index: 0 });
  assert.throws(() => planBuild('FROM x AS 1st\n'), /Dockerfile:1: invalid name for build stage: "1st"/);
});

test('COPY --from by index, name (case-insensitive) or image; RUN --mount from', () => {
  const plan = planBuild('FROM a AS one\nFROM b\nCOPY --from=0 /x /x\nCOPY --from=ONE /y /y\nCOPY --from=nginx:1 /z /z\nRUN --mount=from=one,target=/m true\n');
  assert.deepEqual(
    plan.allStages[1]!.references.map((r) => r.source),
    [{ kind: 'stage', index: 0 }, { kind: 'stage', index: 0 }, { kind: 'image', ref: 'nginx:1' }, { kind: 'stage', index: 0 }],
  );
  assert.deepEqual(plan.allStages[1]!.dependsOn, [0]);
});

test('FROM a stage defined later means an image (with a warning)', () => {
  const plan = planBuild('FROM later\nFROM x AS later\n');
  assert.deepEqual(plan.allStages[0]!.base, { kind: 'image', ref: 'later' });
  assert.match(plan.warnings[0]!.message, /defined later in the file/);
});

test('planning errors carry file and line', () => {
  const cases: [string, RegExp, object?][] = [
    ['FROM x\n', /^Dockerfile: target stage "nope" could not be found$/, { target: 'nope' }],
    ['RUN x\nFROM y\n', /^Dockerfile:1: no build stage in current context$/],
    ['ARG E\nFROM ${E}\n', /^Dockerfile:2: base name \(\$\{E\}\) should not be blank$/],
    ['FROM a AS s\nCOPY --from=s /x /x\n', /^Dockerfile:2: circular dependency detected on stage: s$/],
    ['FROM a AS s0\nCOPY --from=s1 / /\nFROM b AS s1\nCOPY --from=s0 / /\n', /^Dockerfile:4: circular dependency detected on stage: s0$/],
    ['FROM a\nCOPY --from=5 / /\n', /^Dockerfile:2: invalid stage index 5$/],
    ['FROM --platform=linux/ a\n', /^Dockerfile:1: failed to parse platform linux\//],
    ['FROM ${X:?required}\n', /^Dockerfile:1: failed to process .*X: required$/],
  ];
  for (const [text, re, opts] of cases) {
    assert.throws(() => planBuild(text, opts), (e: unknown) => e instanceof DockerfileError && re.test(e.message), text);
  }
  assert.throws(() => planBuild('FROM a\nCOPY b\n', { filename: 'x.Dockerfile' }), /x\.Dockerfile:2: COPY requires at least two/);
});
