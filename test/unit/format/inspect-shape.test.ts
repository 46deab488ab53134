import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInspect, renderTemplate } from '../../../src/cli/format/index.js';
import { familiarTags, historyRows, repoDigests, toDockerInspect } from '../../../src/image/inspect.js';
import type { Digest, ImageConfig } from '../../../src/image/types.js';

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const config: ImageConfig = {
  created: '2024-03-01T10:00:00Z',
  author: 'me',
  architecture: 'arm64',
  variant: 'v8',
  os: 'linux',
  config: { User: 'app', Env: ['A=1'], Cmd: ['run'], ExposedPorts: { '80/tcp': {}, '443/tcp': {} }, Labels: { z: '1', a: '2' }, StopSignal: 'SIGTERM', WorkingDir: '/app' },
  rootfs: { type: 'layers', diff_ids: [d('1'), d('2')] },
  history: [
    { created: '2024-03-01T09:00:00Z', created_by: 'ADD rootfs.tar /' },
    { created: '2024-03-01T09:30:00Z', created_by: 'WORKDIR /app', empty_layer: true },
    { created: '2024-03-01T10:00:00Z', created_by: 'COPY . .', comment: 'buildkit.dockerfile.v0' },
  ],
};

test("toDockerInspect: Docker's fields, order and nil handling", () => {
  const x = toDockerInspect({ id: d('a'), config, tags: ['docker.io/library/app:latest', 'docker.io/library/app:v1', '127.0.0.1:5000/app:x'], manifestDigest: d('m'), repoDigests: [`127.0.0.1:5000/app@${d('b')}`, `docker.io/library/app@${d('c')}`], size: 1234, layerDirs: ['/l/1', '/l/2'], lastTagTime: '2024-03-02T00:00:00Z' });
  assert.deepEqual(Object.keys(x), ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config', 'Architecture', 'Variant', 'Os', 'Size', 'VirtualSize', 'GraphDriver', 'RootFS', 'Metadata']);
  assert.deepEqual(x.RepoTags, ['127.0.0.1:5000/app:x', 'app:latest', 'app:v1']);
  assert.deepEqual(x.RepoDigests, [`127.0.0.1:5000/app@${d('b')}`, `app@${d('c')}`]);
  assert.equal(x.Comment, 'buildkit.dockerfile.v0');
  assert.equal(x.Author, 'me');
  assert.deepEqual(Object.keys(x.Config), ['Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce', 'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels', 'StopSignal']);
  assert.deepEqual(Object.keys(x.Config.Labels as object), ['a', 'z']);
  assert.deepEqual(x.GraphDriver, { Data: { LowerDir: '/l/1', UpperDir: '/l/2' }, Name: 'overlay' });
  assert.deepEqual(x.RootFS, { Type: 'layers', Layers: [d('1'), d('2')] });
  assert.equal(x.Metadata.LastTagTime, '2024-03-02T00:00:00Z');
  const json = formatInspect([x]);
  assert.match(json, /"Entrypoint": null,/);
  assert.match(json, /"Volumes": null,/);
  assert.equal(renderTemplate('{{.Config.Entrypoint}} {{.Config.Volumes}} {{.Config.ExposedPorts}} {{.Os}}/{{.Architecture}}/{{.Variant}}', x), '[] map[] map[443/tcp:{} 80/tcp:{}] linux/arm64/v8');
  const bare = toDockerInspect({ id: d('b'), config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, tags: [], size: 0 });
  assert.deepEqual(bare.RepoTags, []);
  assert.deepEqual(bare.RootFS, { Type: 'layers' });
  assert.equal(bare.Metadata.LastTagTime, '0001-01-01T00:00:00Z');
  assert.equal(renderTemplate('{{.Config.Cmd}}|{{json .GraphDriver.Data}}|{{.RepoTags}}', bare), '[]|null|[]');
});

test('historyRows: newest first, layer sizes skip empty layers, top row has the ID', () => {
  const rows = historyRows(d('a'), config, [100, 200]);
  assert.deepEqual(
    rows.map((r) => [r.id, r.createdBy, r.size, r.comment]),
    [
      [d('a'), 'COPY . .', 200, 'buildkit.dockerfile.v0'],
      ['<missing>', 'WORKDIR /app', 0, ''],
      ['<missing>', 'ADD rootfs.tar /', 100, ''],
    ],
  );
  const noHist = historyRows(d('a'), { ...config, history: undefined }, [5, 6]);
  assert.deepEqual(noHist.map((r) => [r.id, r.size]), [[d('a'), 6], ['<missing>', 5]]);
});

test('familiarTags and repoDigests', () => {
  assert.deepEqual(familiarTags(['docker.io/library/busybox:latest', 'docker.io/user/x:1', 'quay.io/a/b:2', 'docker.io/library/busybox:latest']), ['busybox:latest', 'quay.io/a/b:2', 'user/x:1']);
  assert.deepEqual(repoDigests([`quay.io/x/a@${d('e')}`, `docker.io/library/a@${d('f')}`]), [`a@${d('f')}`, `quay.io/x/a@${d('e')}`]);
  assert.deepEqual(repoDigests(['docker.io/library/a:1']), [], 'a tag is no digest');
});
