import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInspect, formatList, formatTable, tabwrite } from '../../../src/cli/format/index.js';

test('tabwrite aligns like Go tabwriter (minwidth 10, padding 3)', () => {
  assert.equal(tabwrite('REPOSITORY\tTAG\tIMAGE ID\na\tlatest\t123\n'), 'REPOSITORY   TAG       IMAGE ID\na            latest    123\n');
  // column blocks: a line without the cell ends the block
  assert.equal(tabwrite('a\tb\tc\nxx\ny\tzzzzzzzzzzzzzz\tw\n', { minwidth: 0, padding: 1 }), 'a b c\nxx\ny zzzzzzzzzzzzzz w\n');
  // multibyte characters count as one
  assert.equal(tabwrite('é\tx\nab\ty\n', { minwidth: 0, padding: 1 }), 'é  x\nab y\n');
});

const rows = [
  { Repository: 'busybox', Tag: 'latest', ID: 'a416a98b71e2', CreatedSince: '3 months ago', Size: '4.26MB', Digest: '<none>' },
  { Repository: '<none>', Tag: '<none>', ID: '0123456789ab', CreatedSince: '2 days ago', Size: '0B', Digest: '<none>' },
];
const headers = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE' };
const def = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

test('formatList: default table, custom table, templates, json, quiet', () => {
  assert.equal(
    formatList(rows, { defaultFormat: def, headers }),
    'REPOSITORY   TAG       IMAGE ID       CREATED        SIZE\n' +
      'busybox      latest    a416a98b71e2   3 months ago   4.26MB\n' +
      '<none>       <none>    0123456789ab   2 days ago     0B\n',
  );
  assert.equal(formatList(rows, { format: 'table {{.Repository}}\\t{{.Size}}', defaultFormat: def, headers }), 'REPOSITORY   SIZE\nbusybox      4.26MB\n<none>       0B\n');
  assert.equal(formatList(rows, { format: '{{.Repository}}:{{.Tag}}', defaultFormat: def }), 'busybox:latest\n<none>:<none>\n');
  assert.equal(formatList([], { defaultFormat: def, headers }), 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
  assert.equal(formatList(rows, { quiet: true, quietFormat: '{{.ID}}', defaultFormat: def }), 'a416a98b71e2\n0123456789ab\n');
  const json = formatList(rows.slice(0, 1), { format: 'json', defaultFormat: def });
  assert.equal(json, '{"CreatedSince":"3 months ago","Digest":"\\u003cnone\\u003e","ID":"a416a98b71e2","Repository":"busybox","Size":"4.26MB","Tag":"latest"}\n');
  // {{json .}} marshals a row as --format json does (Docker's subcontexts: sorted map, HTML escaped).
  assert.equal(formatList(rows.slice(0, 1), { format: '{{json .}}', defaultFormat: def }), json);
  assert.equal(formatList(rows.slice(0, 1), { format: '{{json .Repository}}', defaultFormat: def }), '"busybox"\n');
  // header of an unnamed field, and header functions pass through
  assert.equal(formatList(rows.slice(0, 1), { format: 'table {{upper .CreatedSince}}', defaultFormat: def }), 'CREATED SINCE\n3 MONTHS AGO\n');
});

test('formatInspect: indented JSON array or a template per item', () => {
  assert.equal(formatInspect([{ Id: 'x', Tags: ['a&b'] }]), '[\n    {\n        "Id": "x",\n        "Tags": [\n            "a\\u0026b"\n        ]\n    }\n]\n');
  assert.equal(formatInspect([]), '[]\n');
  assert.equal(formatInspect([{ Id: 'x' }, { Id: 'y' }], '{{.Id}}'), 'x\ny\n');
});

test('formatTable / column helper', () => {
  assert.equal(formatTable([{ a: 1, b: 'two' }], ['a', { header: 'BEE', get: (r: { b: string }) => r.b }]), 'A         BEE\n1         two\n');
});
