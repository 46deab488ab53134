import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NIL_MAP, NIL_SLICE, TemplateError, renderTemplate as r } from '../../../src/cli/format/index.js';

const img = {
  Id: 'sha256:' + 'ab'.repeat(32),
  RepoTags: ['app:latest', 'app:v1'],
  Size: 4261550,
  Config: { Cmd: ['/bin/sh', '-c', 'echo a && echo b'], Entrypoint: NIL_SLICE, Labels: NIL_MAP, Env: ['PATH=/bin'], User: '' },
  RootFS: { Type: 'layers', Layers: ['sha256:11', 'sha256:22'] },
  Repository: 'app',
  Tag: 'latest',
};

test('fields, nested fields, dot and $', () => {
  assert.equal(r('{{.Id}}', img), img.Id);
  assert.equal(r('{{.RootFS.Type}}', img), 'layers');
  assert.equal(r('{{.Repository}}:{{.Tag}}', img), 'app:latest');
  assert.equal(r('{{.}}', 'x'), 'x');
  assert.equal(r('{{range .RepoTags}}{{$.Repository}} {{end}}', img), 'app app ');
  assert.equal(r('{{.Size}}', img), '4261550');
});

test("values print as Go's %v", () => {
  assert.equal(r('{{.Config.Cmd}}', img), '[/bin/sh -c echo a && echo b]');
  assert.equal(r('{{.Config.Entrypoint}}', img), '[]');
  assert.equal(r('{{.Config.Labels}}', img), 'map[]');
  assert.equal(r('{{.Missing}}', img), '<no value>');
  assert.equal(r('{{.X}}', { X: null }), '<nil>');
  assert.equal(r('{{.M}}', { M: { b: 2, a: 'x' } }), 'map[a:x b:2]');
  assert.equal(r('{{.F}}', { F: 1.5 }), '1.5');
  assert.equal(r('{{.F}}', { F: 0.00001 }), '1e-05');
  assert.equal(r('{{.F}}', { F: 1234567.5 }), '1.2345675e+06');
  assert.equal(r('{{.B}}', { B: true }), 'true');
});

test('json, range/println, index, len, join, upper, lower', () => {
  assert.equal(r('{{json .Config}}', img), '{"Cmd":["/bin/sh","-c","echo a && echo b"],"Entrypoint":null,"Labels":null,"Env":["PATH=/bin"],"User":""}');
  assert.equal(r('{{.Config.Cmd | json}}', img), '["/bin/sh","-c","echo a && echo b"]');
  assert.equal(r('{{range .RootFS.Layers}}{{println .}}{{end}}', img), 'sha256:11\nsha256:22\n');
  assert.equal(r('{{index .RepoTags 0}}', img), 'app:latest');
  assert.equal(r('{{index .Config.Env 0}}', img), 'PATH=/bin');
  assert.equal(r('{{len .RepoTags}}', img), '2');
  assert.equal(r('{{len .RootFS.Layers}} layers', img), '2 layers');
  assert.equal(r('{{join .RepoTags ","}}', img), 'app:latest,app:v1');
  assert.equal(r('{{upper .Tag}} {{lower "ABC"}} {{title "hello world"}}', img), 'LATEST abc Hello World');
  assert.equal(r('{{split "a:b:c" ":"}}', {}), '[a b c]');
  assert.equal(r('{{truncate "abcdef" 3}}|{{pad "x" 1 2}}|', {}), 'abc| x  |');
  assert.equal(r('{{index .M "a.b"}}', { M: { 'a.b': 'v' } }), 'v');
});

test('if / else if / else, with, and/or/not, comparisons', () => {
  assert.equal(r('{{if .Config.User}}user{{else}}root{{end}}', img), 'root');
  assert.equal(r('{{if .Config.Labels}}L{{else if .Config.Env}}E{{else}}N{{end}}', img), 'E');
  assert.equal(r('{{with .RootFS}}{{.Type}}{{end}}', img), 'layers');
  assert.equal(r('{{with .Nope}}x{{else}}none{{end}}', img), 'none');
  assert.equal(r('{{if and .RepoTags (not .Config.User)}}yes{{end}}', img), 'yes');
  assert.equal(r('{{or .Config.User "root"}}', img), 'root');
  assert.equal(r('{{if eq .Tag "v1" "latest"}}match{{end}}', img), 'match');
  assert.equal(r('{{if ne .Tag "latest"}}x{{else}}same{{end}}', img), 'same');
  assert.equal(r('{{if gt (len .RepoTags) 1}}many{{end}}', img), 'many');
  assert.equal(r('{{if lt 1.5 2}}lt{{end}}', {}), 'lt');
});

test('range with variables, else, break/continue, maps in key order', () => {
  assert.equal(r('{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}', img), '0=app:latest;1=app:v1;');
  assert.equal(r('{{range $k, $v := .M}}{{$k}}:{{$v}} {{end}}', { M: { z: 1, a: 2 } }), 'a:2 z:1 ');
  assert.equal(r('{{range .Config.Entrypoint}}x{{else}}empty{{end}}', img), 'empty');
  assert.equal(r('{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}', { L: [1, 2, 3, 4, 5] }), '13');
  assert.equal(r('{{$x := "a"}}{{range .L}}{{$x = .}}{{end}}{{$x}}', { L: ['b', 'c'] }), 'c');
});

test('printf, print, literals, pipelines, parentheses, comments, trim markers', () => {
  assert.equal(r('{{printf "%s-%d-%q-%5.2f|%-4s|%03d" "a" 7 "q" 3.14159 "x" 5}}', {}), 'a-7-"q"- 3.14|x   |005');
  assert.equal(r('{{print 1 2 "a" "b" 3}}', {}), '1 2ab3');
  assert.equal(r('{{println}}', {}), '\n');
  assert.equal(r('{{"}}"}}', {}), '}}');
  assert.equal(r('{{`raw\\n`}}', {}), 'raw\\n');
  assert.equal(r("{{'a'}}", {}), '97');
  assert.equal(r('{{(index .RootFS.Layers 1)}}', img), 'sha256:22');
  assert.equal(r('{{(index .L 0).Name}}', { L: [{ Name: 'n' }] }), 'n');
  assert.equal(r('{{.Tag | upper | printf "<%s>"}}', img), '<LATEST>');
  assert.equal(r('a {{/* note */}} b', {}), 'a  b');
  assert.equal(r('a  {{- /* note */ -}}  b', {}), 'ab');
  assert.equal(r('x\n  {{- .Tag -}}\n  y', img), 'xlatesty');
  assert.equal(r('{{- 3}}', {}), '3');
  assert.equal(r('{{-3}}', {}), '-3');
});

test('errors: syntax and execution', () => {
  assert.throws(() => r('{{.Id', img), TemplateError);
  assert.throws(() => r('{{if .Id}}x', img), /unexpected EOF/);
  assert.throws(() => r('{{end}}', img), /unexpected/);
  assert.throws(() => r('{{nosuch .Id}}', img), /function "nosuch" not defined/);
  assert.throws(() => r('{{index .RepoTags 5}}', img), /index out of range/);
  assert.throws(() => r('{{.Tag "x"}}', img), /non-function/);
  assert.throws(() => r('{{define "x"}}{{end}}', img), /not supported/);
});

test('custom functions and function-valued fields', () => {
  assert.equal(r('{{twice .Tag}}', img, { twice: (s) => String(s) + String(s) }), 'latestlatest');
  assert.equal(r('{{.Fn}}', { Fn: () => 'called' }), 'called');
});
