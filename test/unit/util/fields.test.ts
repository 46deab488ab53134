// BuildKit's option values: key=value fields of one CSV record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvFields, parseFields } from '../../../src/util/fields.js';

test('fields: key=value and bare parts; a quoted field may hold commas and doubled quotes', () => {
  assert.deepEqual(parseFields('type=tar,dest=out.tar'), { fields: { type: 'tar', dest: 'out.tar' }, bare: [] });
  assert.deepEqual(parseFields('id=a,required'), { fields: { id: 'a' }, bare: ['required'] });
  assert.deepEqual(parseFields('type=image,"name=a:1,b:2",push=true').fields, { type: 'image', name: 'a:1,b:2', push: 'true' });
  assert.deepEqual(csvFields('"a ""quoted"" word",b'), ['a "quoted" word', 'b']);
  assert.deepEqual(csvFields('a,,b'), ['a', '', 'b']);
  assert.deepEqual(csvFields('x="y"'), ['x="y"'], 'a quote inside a field is kept');
  assert.throws(() => csvFields('"open,b'), /unterminated quote/);
  assert.throws(() => csvFields('"a"b,c'), /after a quoted field/);
});
