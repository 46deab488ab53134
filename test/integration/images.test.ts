// Image management through the command line, on images made without a build engine (layers
// applied from hand-made tars, configs written with putJson, rows inserted): images, inspect,
// history, tag, rmi, image prune, save (docker-archive and oci-archive) and load into a fresh
// state directory with identical image IDs, OCI schema validation, skopeo reading kiln's
// archives, kiln reading skopeo's, and hostile archives refused with nothing stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { Engine } from '../../src/engine.js';
import { canonicalJson } from '../../src/image/canonical.js';
import type { Digest, ImageConfig, Index, Manifest } from '../../src/image/types.js';
import { kilnBin } from '../helpers/kiln.js';
import { ociErrors, schemasAvailable } from '../unit/archive/oci-schemas.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-images-'));
const src = path.join(tmp, 'src');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha = (b: Buffer | string): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function kiln(root: string, args: string[], opts: { input?: Buffer | string } = {}) {
  const r = spawnSync(kilnBin, ['--root', root, ...args], { input: opts.input ?? '', encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(root: string, args: string[], opts: { input?: Buffer | string } = {}): string {
  const r = kiln(root, args, opts);
  assert.equal(r.code, 0, `kiln ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

type Entry = { name: string; body?: string | Buffer; type?: 'file' | 'directory' | 'symlink'; linkname?: string };
async function mkTar(entries: Entry[]): Promise<Buffer> {
  const p = tar.pack();
  const r = p as unknown as Readable;
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((res) => r.on('end', res));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, linkname: e.linkname, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), uid: 0, gid: 0 };
    if (type === 'file') p.entry(header, e.body ?? '');
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * An image as a build or a pull would leave it: the first layer applied from a hand-made tar
 * (LayerStore.applyTar keeps the tar as its blob), the others committed from hand-made
 * directories (LayerStore.commitDir, re-packed deterministically on save); config by putJson;
 * image and tag rows inserted.
 */
async function makeImage(root: string, tags: string[], layers: Entry[][], extra: Partial<ImageConfig> = {}): Promise<Digest> {
  const e = Engine.open(root);
  try {
    const diffIds: Digest[] = [];
    for (const [i, files] of layers.entries()) {
      if (i === 0) {
        const r = await e.layers.applyTar(Readable.from([await mkTar(files)]), [], undefined);
        diffIds.push(r.diffId);
        continue;
      }
      const dir = e.tmpDir('test-upper');
      for (const f of files) {
        const p = path.join(dir, f.name);
        if (f.type === 'directory') fs.mkdirSync(p, { recursive: true });
        else if (f.type === 'symlink') fs.symlinkSync(f.linkname!, p);
        else {
          fs.mkdirSync(path.dirname(p), { recursive: true });
          fs.writeFileSync(p, f.body ?? '');
        }
      }
      const r = await e.layers.commitDir(dir, diffIds.slice());
      diffIds.push(r.diffId);
    }
    const config: ImageConfig = {
      created: '2024-05-01T12:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh', '-c', 'echo hi && sleep 1'], Labels: { 'org.example': 'yes' } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [
        ...layers.map((_l, i) => ({ created: '2024-05-01T11:00:00Z', created_by: `/bin/sh -c #(nop) ADD file:${'f'.repeat(40)}${i} in /` })),
        { created: '2024-05-01T12:00:00Z', created_by: '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo hi && sleep 1"]', empty_layer: true },
      ],
      ...extra,
    };
    const { digest } = e.content.putJson(config);
    e.db.putImage({ id: digest, manifestDigest: null, manifestMediaType: null, size: e.layers.sizeOf(diffIds) });
    for (const t of tags) e.db.setTag(t, digest);
    return digest;
  } finally {
    e.close();
  }
}

const base: Entry[] = [
  { name: 'bin/', type: 'directory' },
  { name: 'bin/hello', body: '#!/bin/sh\necho hello\n' },
  { name: 'etc/', type: 'directory' },
  { name: 'etc/os-release', body: 'NAME=kiln-test\n' },
  { name: 'bin/hi', type: 'symlink', linkname: 'hello' },
];
const app: Entry[] = [{ name: 'app/', type: 'directory' }, { name: 'app/data.bin', body: Buffer.alloc(50_000, 7) }];

let appId: Digest;
let otherId: Digest;
let danglingId: Digest;

before(async () => {
  appId = await makeImage(src, ['app:latest', 'app:v1'], [base, app]);
  otherId = await makeImage(src, ['127.0.0.1:5000/team/other:2'], [base], { created: '2024-04-01T00:00:00Z', config: { Cmd: ['sh'] } });
  danglingId = await makeImage(src, [], [[{ name: 'x', body: 'dangling' }]], { created: '2024-03-01T00:00:00Z' });
});

function storeEmpty(root: string): void {
  assert.deepEqual(fs.readdirSync(path.join(root, 'blobs', 'sha256')), [], 'no blobs stored');
  assert.deepEqual(fs.readdirSync(path.join(root, 'layers')), [], 'no layers stored');
  assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), [], 'no staging left behind');
  assert.equal(ok(root, ['images', '-qa']), '');
}

test('images: table, -q, --digests, --no-trunc, json, templates, repository filter, --filter', () => {
  const table = ok(src, ['images']).split('\n');
  assert.match(table[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.match(table[1]!, new RegExp(`^app\\s+latest\\s+${appId.slice(7, 19)}\\s+\\S+ \\S+ ago\\s+5\\dkB$`));
  assert.match(table[2]!, /^app\s+v1\s+/);
  assert.match(table[3]!, /^127\.0\.0\.1:5000\/team\/other\s+2\s+/);
  assert.match(table[4]!, new RegExp(`^<none>\\s+<none>\\s+${danglingId.slice(7, 19)}`));
  assert.equal(ok(src, ['images', '-q']), [appId, appId, otherId, danglingId].map((i) => i.slice(7, 19) + '\n').join(''));
  assert.match(ok(src, ['images', '--no-trunc']), new RegExp(appId));
  assert.match(ok(src, ['images', '--digests']).split('\n')[0]!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID/);
  const json = ok(src, ['images', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.equal(json.length, 4);
  assert.deepEqual(Object.keys(json[0]!), ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
  assert.equal(json[0]!.Repository, 'app');
  assert.equal(json[0]!.CreatedAt, '2024-05-01 12:00:00 +0000 UTC');
  assert.equal(ok(src, ['images', '--format', '{{.Repository}}:{{.Tag}}']), 'app:latest\napp:v1\n127.0.0.1:5000/team/other:2\n<none>:<none>\n');
  assert.equal(ok(src, ['images', '--format', 'table {{.Repository}}\\t{{.Tag}}', 'app']), 'REPOSITORY   TAG\napp          latest\napp          v1\n');
  assert.equal(ok(src, ['images', '--format', '{{.Tag}}', 'app:v1']), 'v1\n');
  assert.equal(ok(src, ['images', '--format', '{{.Tag}}', '127.0.0.1:5000/team/*']), '2\n');
  assert.equal(ok(src, ['image', 'ls', '-q', '--filter', 'dangling=true']), danglingId.slice(7, 19) + '\n');
  assert.equal(ok(src, ['images', '--format', '{{.Tag}}', '--filter', 'label=org.example=yes']), 'latest\nv1\n<none>\n');
  assert.equal(ok(src, ['images', '--format', '{{.ID}}', '--filter', 'before=app:latest']), `${otherId.slice(7, 19)}\n${danglingId.slice(7, 19)}\n`);
  const bad = kiln(src, ['images', '--filter', 'nope=1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid filter 'nope'/);
});

test('inspect: Docker field names, templates, top-level inspect, missing objects', () => {
  const arr = JSON.parse(ok(src, ['image', 'inspect', 'app'])) as Record<string, any>[];
  assert.equal(arr.length, 1);
  const x = arr[0]!;
  assert.equal(x.Id, appId);
  assert.deepEqual(x.RepoTags, ['app:latest', 'app:v1']);
  assert.deepEqual(x.Config.Cmd, ['/bin/sh', '-c', 'echo hi && sleep 1']);
  assert.equal(x.Config.Entrypoint, null);
  assert.equal(x.Os, 'linux');
  assert.equal(x.Architecture, 'amd64');
  assert.equal(x.RootFS.Type, 'layers');
  assert.equal(x.RootFS.Layers.length, 2);
  assert.ok(x.Size > 50_000);
  assert.equal(x.GraphDriver.Name, 'overlay');
  assert.ok(fs.existsSync(x.GraphDriver.Data.UpperDir + '/app/data.bin'));
  for (const k of ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'RootFS', 'Metadata']) assert.ok(k in x, k);
  assert.equal(ok(src, ['inspect', '-f', '{{.Id}}', 'app:v1']), appId + '\n');
  assert.equal(ok(src, ['image', 'inspect', '--format', '{{.Config.Cmd}}', 'app']), '[/bin/sh -c echo hi && sleep 1]\n');
  assert.equal(ok(src, ['inspect', '--format', '{{json .Config.Cmd}}', 'app']), '["/bin/sh","-c","echo hi && sleep 1"]\n');
  assert.equal(ok(src, ['inspect', '-f', '{{range .RootFS.Layers}}{{println .}}{{end}}', 'app']), x.RootFS.Layers.map((l: string) => l + '\n').join('') + '\n');
  assert.equal(ok(src, ['inspect', '-f', '{{index .RepoTags 0}} {{len .RootFS.Layers}} {{.Config.Entrypoint}} {{if .Config.User}}u{{else}}root{{end}}', 'app']), 'app:latest 2 [] root\n');
  assert.equal(ok(src, ['inspect', '-f', '{{.Id}}', appId.slice(7, 15), otherId]), `${appId}\n${otherId}\n`);
  const missing = kiln(src, ['inspect', 'app', 'no-such-thing']);
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as unknown[]).length, 1);
  assert.match(missing.stderr, /No such object: no-such-thing/);
  const missingImg = kiln(src, ['image', 'inspect', 'nope']);
  assert.equal(missingImg.code, 1);
  assert.equal(missingImg.stdout, '[]\n');
  assert.match(missingImg.stderr, /No such image: nope/);
  const badTpl = kiln(src, ['inspect', '-f', '{{.Id', 'app']);
  assert.equal(badTpl.code, 1);
  assert.match(badTpl.stderr, /template parsing error/);
});

test('history: rows newest first, <missing> below the top, layer sizes, --no-trunc, -q, json', () => {
  const lines = ok(src, ['history', 'app']).split('\n');
  assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
  assert.match(lines[1]!, new RegExp(`^${appId.slice(7, 19)}\\s+.+ ago\\s+/bin/sh -c #\\(nop\\)  CMD \\["/bin/sh" "-c" "echo…\\s+0B\\s*$`));
  assert.match(lines[2]!, /^<missing>\s+.+ago\s+\/bin\/sh -c #\(nop\) ADD file:f+…\s+50kB\s*$/);
  assert.match(lines[3]!, /^<missing>\s+.+ago\s+.+\s+\d+B\s*$/);
  assert.equal(lines.length, 5);
  assert.equal(ok(src, ['history', '-q', 'app']), `${appId.slice(7, 19)}\n<missing>\n<missing>\n`);
  assert.match(ok(src, ['image', 'history', '--no-trunc', 'app']), new RegExp(`${appId}.*echo hi && sleep 1`));
  const json = ok(src, ['history', '--format', 'json', 'app']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(Object.keys(json[0]!), ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size']);
  assert.equal(json[1]!.CreatedAt, '2024-05-01T11:00:00Z');
  assert.equal(ok(src, ['history', '-H=false', '--format', '{{.Size}}', 'app']), '0\n50000\n' + json[2]!.Size.replace(/B$/, '') + '\n');
});

test('save docker-archive → load into a fresh store: same IDs, tags, layers; skopeo reads it', async () => {
  const file = path.join(tmp, 'app-docker.tar');
  ok(src, ['save', '-o', file, 'app', '127.0.0.1:5000/team/other:2']);
  const dst = path.join(tmp, 'dst-docker');
  const out = ok(dst, ['load', '-i', file]);
  assert.equal(out, 'Loaded image: app:latest\nLoaded image: app:v1\nLoaded image: 127.0.0.1:5000/team/other:2\n');
  assert.equal(ok(dst, ['inspect', '-f', '{{.Id}}', 'app:latest', 'app:v1', '127.0.0.1:5000/team/other:2']), `${appId}\n${appId}\n${otherId}\n`);
  assert.equal(ok(dst, ['history', '--format', '{{.CreatedBy}}|{{.Size}}', 'app']), ok(src, ['history', '--format', '{{.CreatedBy}}|{{.Size}}', 'app']));
  const layers = JSON.parse(ok(dst, ['inspect', '-f', '{{json .RootFS.Layers}}', 'app']));
  assert.deepEqual(layers, JSON.parse(ok(src, ['inspect', '-f', '{{json .RootFS.Layers}}', 'app'])));
  // save from the loaded copy: byte for byte the same archive
  const again = path.join(tmp, 'app-docker-again.tar');
  ok(dst, ['save', '-o', again, 'app', '127.0.0.1:5000/team/other:2']);
  assert.equal(sha(fs.readFileSync(again)), sha(fs.readFileSync(file)));
  // skopeo reads it (a multi-image docker-archive needs the name)
  const sk = spawnSync('skopeo', ['inspect', `docker-archive:${file}:app:latest`], { encoding: 'utf8' });
  assert.equal(sk.status, 0, sk.stderr);
  const info = JSON.parse(sk.stdout) as { Layers: string[]; Os: string; Labels: Record<string, string> };
  assert.deepEqual(info.Layers, layers);
  assert.equal(info.Labels['org.example'], 'yes');
  const cfg = spawnSync('skopeo', ['inspect', '--config', '--raw', `docker-archive:${file}:app:latest`], { encoding: 'buffer' });
  assert.equal(sha(cfg.stdout), appId);
  // stdin, and an untagged image saved by ID
  const byId = path.join(tmp, 'dangling.tar');
  ok(src, ['save', '-o', byId, danglingId.slice(7, 19)]);
  const dst2 = path.join(tmp, 'dst-stdin');
  assert.equal(ok(dst2, ['load'], { input: fs.readFileSync(byId) }), `Loaded image ID: ${danglingId}\n`);
  const manifest = JSON.parse(spawnSync('tar', ['-xOf', byId, 'manifest.json'], { encoding: 'utf8' }).stdout) as { RepoTags: unknown }[];
  assert.equal(manifest[0]!.RepoTags, null);
});

test('load takes an archive compressed with gzip, bzip2, xz or zstd, as Docker does', () => {
  const file = path.join(tmp, 'app-plain.tar');
  ok(src, ['save', '-o', file, 'app:v1']);
  for (const [tool, args] of [['gzip', ['-c']], ['bzip2', ['-c']], ['xz', ['-c', '-T1']], ['zstd', ['-q', '-c']]] as const) {
    const packed = spawnSync(tool, [...args, file], { maxBuffer: 1 << 28 });
    assert.equal(packed.status, 0, `${tool}: ${packed.stderr}`);
    const dst = path.join(tmp, `dst-${tool}`);
    assert.equal(ok(dst, ['load'], { input: packed.stdout }), 'Loaded image: app:v1\n', tool);
    assert.equal(ok(dst, ['inspect', '-f', '{{.Id}}', 'app:v1']), `${appId}\n`);
  }
});

test('save oci-archive: schema-valid layout, gzip layers, skopeo reads it; load gives the same image', { skip: !schemasAvailable() && 'no OCI schemas' }, async () => {
  const file = path.join(tmp, 'app-oci.tar');
  ok(src, ['image', 'save', '--format', 'oci-archive', '-o', file, 'app:latest']);
  const x = path.join(tmp, 'oci-x');
  fs.mkdirSync(x);
  assert.equal(spawnSync('tar', ['-xf', file, '-C', x]).status, 0);
  const read = (p: string) => JSON.parse(fs.readFileSync(path.join(x, p), 'utf8'));
  assert.deepEqual(ociErrors('layout', read('oci-layout')), []);
  const index = read('index.json') as Index;
  assert.deepEqual(ociErrors('index', index), []);
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]!.annotations!['org.opencontainers.image.ref.name'], 'docker.io/library/app:latest');
  const blob = (d: string) => fs.readFileSync(path.join(x, 'blobs', 'sha256', d.slice(7)));
  const mBytes = blob(index.manifests[0]!.digest);
  assert.equal(sha(mBytes), index.manifests[0]!.digest);
  const manifest = JSON.parse(mBytes.toString()) as Manifest;
  assert.deepEqual(ociErrors('manifest', manifest), []);
  assert.equal(manifest.config.digest, appId);
  assert.deepEqual(ociErrors('config', JSON.parse(blob(appId).toString())), []);
  for (const l of manifest.layers) {
    assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const b = blob(l.digest);
    assert.equal(sha(b), l.digest);
    assert.equal(b.length, l.size);
    assert.equal(b[0], 0x1f);
  }
  const sk = spawnSync('skopeo', ['inspect', `oci-archive:${file}`], { encoding: 'utf8' });
  assert.equal(sk.status, 0, sk.stderr);
  assert.equal((JSON.parse(sk.stdout) as { Digest: string }).Digest, index.manifests[0]!.digest);
  const dst = path.join(tmp, 'dst-oci');
  assert.equal(ok(dst, ['load', '-i', file]), 'Loaded image: app:latest\n');
  const loaded = JSON.parse(ok(dst, ['image', 'inspect', 'app']))[0];
  assert.equal(loaded.Id, appId);
  assert.deepEqual(loaded.RepoDigests, [`app@${index.manifests[0]!.digest}`]);
  // the compressed blobs were kept as they arrived: saving again reuses the same manifest
  const again = path.join(tmp, 'app-oci-again.tar');
  ok(dst, ['save', '--format', 'oci-archive', '-o', again, 'app:latest']);
  assert.equal(sha(fs.readFileSync(again)), sha(fs.readFileSync(file)));
});

test("load reads skopeo's archives: docker-archive with links, OCI with zstd layers, bare-tag ref.name", () => {
  const kilnOci = path.join(tmp, 'app-oci.tar');
  if (!fs.existsSync(kilnOci)) ok(src, ['save', '--format', 'oci-archive', '-o', kilnOci, 'app:latest']);
  const skD = path.join(tmp, 'sk-docker.tar');
  const skZ = path.join(tmp, 'sk-zstd.tar');
  const skT = path.join(tmp, 'sk-tag.tar');
  for (const args of [
    ['copy', '-q', `oci-archive:${kilnOci}`, `docker-archive:${skD}:team/from-skopeo:1`],
    ['copy', '-q', '--dest-compress-format', 'zstd', `oci-archive:${kilnOci}`, `oci-archive:${skZ}:docker.io/team/zstd:2`],
    ['copy', '-q', `oci-archive:${kilnOci}`, `oci-archive:${skT}:v9`],
  ]) {
    const r = spawnSync('skopeo', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const dst = path.join(tmp, 'dst-skopeo');
  assert.equal(ok(dst, ['load', '-i', skD]), 'Loaded image: team/from-skopeo:1\n');
  assert.equal(ok(dst, ['load', '-i', skZ]), 'Loaded image: team/zstd:2\n');
  assert.match(ok(dst, ['load', '-i', skT]), /^Loaded image ID: sha256:[a-f0-9]{64}\n$/);
  assert.equal(ok(dst, ['inspect', '-f', '{{.Id}}', 'team/from-skopeo:1']), appId + '\n');
  assert.equal(ok(dst, ['inspect', '-f', '{{.Id}}', 'team/zstd:2']), appId + '\n');
});

// ---------------------------------------------------------------- hostile archives

async function dockerArchive(layer: Buffer, opts: { configName?: string } = {}): Promise<Buffer> {
  const config = canonicalJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } });
  const name = opts.configName ?? `${sha(config).slice(7)}.json`;
  return mkTar([
    { name, body: config },
    { name: 'l/layer.tar', body: layer },
    { name: 'manifest.json', body: JSON.stringify([{ Config: name, RepoTags: ['evil:latest'], Layers: ['l/layer.tar'] }]) },
  ]);
}

test('hostile archives are refused with a clear error and nothing stored', async () => {
  const cases: [string, Buffer, RegExp][] = [
    ['layer with ../ entry', await dockerArchive(await mkTar([{ name: 'ok', body: 'x' }, { name: '../../etc/evil', body: 'x' }])), /refusing layer entry "\.\.\/\.\.\/etc\/evil"/],
    ['layer with absolute entry', await dockerArchive(await mkTar([{ name: '/etc/evil', body: 'x' }])), /absolute path/],
    ['write through a symlink', await dockerArchive(await mkTar([{ name: 'lnk', type: 'symlink', linkname: '/etc' }, { name: 'lnk/passwd', body: 'x' }])), /through the symlink lnk/],
    ['archive entry outside', await mkTar([{ name: '../outside', body: 'x' }]), /invalid archive entry "\.\.\/outside"/],
    ['config renamed', await dockerArchive(await mkTar([{ name: 'a', body: 'x' }]), { configName: `${'1'.repeat(64)}.json` }), /digest mismatch/],
  ];
  // a layer whose bytes are not the diffID the config claims
  {
    const real = await mkTar([{ name: 'a', body: 'real' }]);
    const fake = await mkTar([{ name: 'a', body: 'fake' }]);
    const config = canonicalJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(real)] } });
    cases.push([
      'diffID mismatch',
      await mkTar([
        { name: `${sha(config).slice(7)}.json`, body: config },
        { name: 'l.tar', body: fake },
        { name: 'manifest.json', body: JSON.stringify([{ Config: `${sha(config).slice(7)}.json`, RepoTags: ['evil:x'], Layers: ['l.tar'] }]) },
      ]),
      /diffID mismatch/,
    ]);
  }
  // OCI: a gzip layer blob whose bytes do not match its digest (a second, good layer comes first)
  {
    const good = await mkTar([{ name: 'good', body: 'g' }]);
    const bad = await mkTar([{ name: 'bad', body: 'b' }]);
    const gGood = gzipSync(good);
    const gBad = gzipSync(bad);
    const tampered = gzipSync(await mkTar([{ name: 'bad', body: 'B' }]));
    const config = canonicalJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(good), sha(bad)] } });
    const manifest = canonicalJson({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gGood), size: gGood.length },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gBad), size: gBad.length },
      ],
    });
    const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'evil:oci' } }] });
    const blobs = (b: Buffer, name = sha(b)): Entry => ({ name: `blobs/sha256/${name.slice(7)}`, body: b });
    cases.push([
      'OCI blob with wrong digest',
      await mkTar([{ name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' }, blobs(config), blobs(manifest), blobs(gGood), blobs(tampered, sha(gBad)), { name: 'index.json', body: index }]),
      /digest mismatch: expected sha256:[a-f0-9]{64}, got/,
    ]);
  }
  for (const [what, archive, re] of cases) {
    const root = path.join(tmp, `hostile-${what.replace(/\W+/g, '-')}`);
    const r = kiln(root, ['load'], { input: archive });
    assert.equal(r.code, 1, `${what}: ${r.stdout}`);
    assert.match(r.stderr, re, what);
    assert.equal(r.stdout, '', what);
    storeEmpty(root);
  }
});

// ---------------------------------------------------------------- tag / rmi / prune

test('tag and rmi: untag vs delete, conflicts, layers and blobs removed', async () => {
  const root = path.join(tmp, 'rmi');
  const id = await makeImage(root, ['one:latest'], [base, app]);
  const other = await makeImage(root, ['keep:1'], [base]);
  ok(root, ['tag', 'one', 'two:x']);
  ok(root, ['image', 'tag', id.slice(7, 19), 'quay.io/team/three']);
  assert.equal(ok(root, ['inspect', '-f', '{{json .RepoTags}}', id]), '["one:latest","quay.io/team/three:latest","two:x"]\n');
  const badTag = kiln(root, ['tag', 'one', 'Bad:Name']);
  assert.equal(badTag.code, 1);
  assert.match(badTag.stderr, /invalid reference format/);
  assert.match(kiln(root, ['tag', 'nosuch', 'x']).stderr, /No such image: nosuch/);
  // by tag: only untagged while other tags remain
  assert.equal(ok(root, ['rmi', 'two:x']), 'Untagged: two:x\n');
  // by ID with tags in several repositories: refused without -f
  const conflict = kiln(root, ['rmi', id.slice(7, 19)]);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, new RegExp(`conflict: unable to delete ${id.slice(7, 19)} \\(must be forced\\) - image is referenced in multiple repositories`));
  // a stopped container uses it: the last tag stays without -f
  const e = Engine.open(root);
  e.db.putContainer({ id: 'c'.repeat(64), name: 'user', imageId: id, state: { Status: 'exited' }, config: {} });
  e.close();
  ok(root, ['rmi', 'quay.io/team/three']);
  const used = kiln(root, ['rmi', 'one']);
  assert.equal(used.code, 1);
  assert.match(used.stderr, /unable to remove repository reference "one" \(must force\) - container cccccccccccc is using its referenced image/);
  const byId = kiln(root, ['rmi', id]);
  assert.match(byId.stderr, /image is being used by stopped container cccccccccccc/);
  // running: cannot be forced
  const e2 = Engine.open(root);
  e2.db.updateContainer('c'.repeat(64), { state: { Status: 'running' } });
  e2.close();
  assert.match(kiln(root, ['rmi', '-f', id]).stderr, /\(cannot be forced\) - image is being used by running container cccccccccccc/);
  // stopped + -f: untagged and deleted, but what the container needs stays on disk
  const e3 = Engine.open(root);
  e3.db.updateContainer('c'.repeat(64), { state: { Status: 'exited' } });
  const chains = e3.layers.chainIds(e3.resolveImage(id).config.rootfs.diff_ids);
  e3.close();
  assert.equal(ok(root, ['rmi', '-f', 'one']), `Untagged: one:latest\nDeleted: ${id}\n`);
  for (const c of chains) assert.ok(fs.existsSync(path.join(root, 'layers', c.slice(7))), 'layer kept for the container');
  // the container goes; an image with a shared and an own layer is deleted layer by layer
  const e4 = Engine.open(root);
  e4.db.deleteContainer('c'.repeat(64));
  e4.close();
  const id2 = await makeImage(root, ['again:1'], [base, [{ name: 'own', body: 'own layer' }]]);
  const e5 = Engine.open(root);
  const chains2 = e5.layers.chainIds(e5.resolveImage(id2).config.rootfs.diff_ids);
  e5.close();
  assert.equal(chains2[0], chains[0]);
  assert.equal(ok(root, ['rmi', 'again:1']), `Untagged: again:1\nDeleted: ${id2}\nDeleted: ${chains2[1]}\n`);
  assert.ok(!fs.existsSync(path.join(root, 'layers', chains2[1]!.slice(7))));
  assert.ok(fs.existsSync(path.join(root, 'layers', chains[0]!.slice(7))), 'shared base layer kept');
  assert.ok(!fs.existsSync(path.join(root, 'blobs', 'sha256', id2.slice(7))), 'config blob removed');
  // what the forced-out image left for its container is garbage now: prune collects it
  const e6 = Engine.open(root);
  const report = e6.prune();
  e6.close();
  assert.ok(report.layers.includes(chains[1]!));
  // while another kiln command runs (a live session), only the rows go; files wait for prune
  const busy = await makeImage(root, ['busy:1'], [base, [{ name: 'busy', body: 'busy layer' }]]);
  const other6 = Engine.open(root);
  try {
    const busyChains = other6.layers.chainIds(other6.resolveImage(busy).config.rootfs.diff_ids);
    assert.equal(ok(root, ['rmi', 'busy:1']), `Untagged: busy:1\nDeleted: ${busy}\n`);
    assert.ok(fs.existsSync(path.join(root, 'layers', busyChains[1]!.slice(7))), 'layer left while another command runs');
  } finally {
    other6.close();
  }
  const e7 = Engine.open(root);
  e7.prune();
  e7.close();
  // several arguments: failures reported, the rest removed
  const multi = kiln(root, ['rmi', 'nope', 'keep:1']);
  assert.equal(multi.code, 1);
  assert.match(multi.stderr, /No such image: nope/);
  assert.equal(multi.stdout, `Untagged: keep:1\nDeleted: ${other}\nDeleted: ${chains[0]}\n`);
  assert.deepEqual(fs.readdirSync(path.join(root, 'layers')), []);
  assert.deepEqual(fs.readdirSync(path.join(root, 'blobs', 'sha256')), []);
});

test('image prune: dangling only, then -a; prompt declined without -f', async () => {
  const root = path.join(tmp, 'prune');
  const tagged = await makeImage(root, ['t:1'], [base]);
  const dangling = await makeImage(root, [], [[{ name: 'd', body: 'dangling' }]]);
  const declined = ok(root, ['image', 'prune'], { input: 'n\n' });
  assert.match(declined, /WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] $/);
  assert.equal(ok(root, ['images', '-qa']).split('\n').filter(Boolean).length, 2);
  const out = ok(root, ['image', 'prune', '-f']);
  assert.match(out, new RegExp(`^Deleted Images:\ndeleted: ${dangling}\ndeleted: sha256:[a-f0-9]{64}\n\nTotal reclaimed space: \\S+B\n$`));
  assert.equal(ok(root, ['image', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  const all = ok(root, ['image', 'prune', '-a'], { input: 'y\n' });
  assert.match(all, new RegExp(`Deleted Images:\nuntagged: t:1\ndeleted: ${tagged}\n`));
  assert.equal(ok(root, ['images', '-qa']), '');
  assert.deepEqual(fs.readdirSync(path.join(root, 'layers')), []);
});
