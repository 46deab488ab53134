// A subset of Go's text/template, enough for what people pass to `docker … --format`:
//   {{.Id}} {{.Config.Cmd}} {{$}} {{$v := .X}} {{json .Config}} {{.A | json}} {{(index .X 0).Y}}
//   {{range .RootFS.Layers}}{{println .}}{{end}}  {{range $i, $e := .L}}…{{else}}…{{end}}
//   {{if …}}…{{else if …}}…{{else}}…{{end}}  {{with …}}…{{end}}  {{break}} {{continue}}
//   {{/* comments */}}  {{- trim -}} markers, string/raw/char/number/bool/nil literals.
// Functions: Go's builtins (and or not len index slice print printf println eq ne lt le gt ge
// html js urlquery) and Docker's (json split join title lower upper pad truncate).
// Values print as Go's %v does (see gofmt.ts). Not supported: define/template/block, call.
import { GoNil, goJson, goSprintf, goString, isNil } from './gofmt.js';

export class TemplateError extends Error {}

// ---------------------------------------------------------------- AST

interface Pipeline {
  decl: string[];
  assign: boolean; // `=` rather than `:=`
  cmds: Operand[][];
  src: string;
  line: number;
}

type Operand =
  | { k: 'field'; chain: string[] } // .A.B, or `.` when chain is empty
  | { k: 'var'; name: string; chain: string[] }
  | { k: 'ident'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'sub'; pipe: Pipeline; chain: string[] };

type Node =
  | { k: 'text'; s: string }
  | { k: 'action'; pipe: Pipeline }
  | { k: 'if' | 'with'; pipe: Pipeline; body: Node[]; else?: Node[] }
  | { k: 'range'; pipe: Pipeline; body: Node[]; else?: Node[] }
  | { k: 'break' }
  | { k: 'continue' };

// ---------------------------------------------------------------- lexer (one action at a time)

type Tok =
  | { t: 'field'; chain: string[] }
  | { t: 'var'; name: string; chain: string[] }
  | { t: 'ident'; v: string }
  | { t: 'lit'; v: unknown }
  | { t: 'op'; v: '(' | ')' | '|' | ':=' | '=' | ',' }
  | { t: 'chain'; chain: string[] }; // .Field right after `)`

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

class Scanner {
  pos = 0;
  line = 1;
  constructor(readonly src: string) {}

  err(msg: string): never {
    throw new TemplateError(`template: :${this.line}: ${msg}`);
  }
}

/** Splits the template into text and raw action bodies, applying trim markers. */
function splitActions(src: string): { text: string; action?: string; line: number }[] {
  const out: { text: string; action?: string; line: number }[] = [];
  let pos = 0;
  let line = 1;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', pos);
    let text = src.slice(pos, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      out.push({ text, line });
      return out;
    }
    let i = open + 2;
    if (src[i] === '-' && /[ \t\r\n]/.test(src[i + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      i += 2;
    }
    line += countLines(src.slice(pos, open));
    const actionLine = line;
    // find the closing }} outside string literals
    let j = i;
    let end = -1;
    if (src.startsWith('/*', skipSpaces(src, i)) || src.startsWith('/*', i)) {
      const c = src.indexOf('*/', i);
      if (c < 0) throw new TemplateError(`template: :${actionLine}: unclosed comment`);
      j = c + 2;
      const rest = /^( -)?\}\}/.exec(src.slice(j));
      if (!rest) throw new TemplateError(`template: :${actionLine}: comment ends before closing delimiter`);
      end = j + rest[0].length - 2;
    } else {
      while (j < src.length) {
        const ch = src[j]!;
        if (ch === '"' || ch === '`' || ch === "'") {
          const close = findQuoteEnd(src, j);
          if (close < 0) throw new TemplateError(`template: :${actionLine}: unterminated quoted string`);
          j = close + 1;
          continue;
        }
        if (ch === '}' && src[j + 1] === '}') {
          end = j;
          break;
        }
        j++;
      }
      if (end < 0) throw new TemplateError(`template: :${actionLine}: unclosed action`);
    }
    let body = src.slice(i, end);
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -2);
      trimNext = true;
    }
    out.push({ text, action: body, line: actionLine });
    line += countLines(src.slice(open, end + 2));
    pos = end + 2;
  }
}

function skipSpaces(s: string, i: number): number {
  while (i < s.length && /[ \t\r\n]/.test(s[i]!)) i++;
  return i;
}

function countLines(s: string): number {
  let n = 0;
  for (const c of s) if (c === '\n') n++;
  return n;
}

function findQuoteEnd(s: string, i: number): number {
  const q = s[i]!;
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (q !== '`' && c === '\\') {
      j++;
      continue;
    }
    if (c === q) return j;
    if (q !== '`' && c === '\n') return -1;
  }
  return -1;
}

function lexAction(body: string, line: number): Tok[] {
  const sc = new Scanner(body);
  sc.line = line;
  const toks: Tok[] = [];
  const s = body;
  let i = 0;
  const readChain = (): string[] => {
    const chain: string[] = [];
    while (s[i] === '.') {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(s);
      if (!m) break;
      chain.push(m[0]);
      i = IDENT.lastIndex;
    }
    return chain;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (/[ \t\r\n]/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '|' || c === ',') {
      toks.push({ t: 'op', v: c });
      i++;
      if (c === ')' && s[i] === '.') {
        const chain = readChain();
        if (chain.length) toks.push({ t: 'chain', chain });
      }
      continue;
    }
    if (c === ':' && s[i + 1] === '=') {
      toks.push({ t: 'op', v: ':=' });
      i += 2;
      continue;
    }
    if (c === '=') {
      toks.push({ t: 'op', v: '=' });
      i++;
      continue;
    }
    if (c === '.') {
      if (/[0-9]/.test(s[i + 1] ?? '')) {
        // a number like .5
      } else {
        const chain = readChain();
        if (chain.length === 0) i++; // bare dot
        toks.push({ t: 'field', chain });
        continue;
      }
    }
    if (c === '$') {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(s);
      let name = '$';
      if (m && m.index === i + 1) {
        name = '$' + m[0];
        i = IDENT.lastIndex;
      } else i++;
      toks.push({ t: 'var', name, chain: readChain() });
      continue;
    }
    if (c === '"' || c === '`' || c === "'") {
      const end = findQuoteEnd(s, i);
      if (end < 0) sc.err('unterminated quoted string');
      const raw = s.slice(i, end + 1);
      i = end + 1;
      if (c === '`') toks.push({ t: 'lit', v: raw.slice(1, -1) });
      else if (c === '"') toks.push({ t: 'lit', v: unquote(raw, sc) });
      else {
        const v = unquote('"' + raw.slice(1, -1).replace(/"/g, '\\"') + '"', sc);
        if ([...v].length !== 1) sc.err(`malformed character constant: ${raw}`);
        toks.push({ t: 'lit', v: v.codePointAt(0)! });
      }
      continue;
    }
    const num = /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)(?=[\s()|,]|$)/.exec(s.slice(i));
    if (num && /[0-9]/.test(num[0])) {
      toks.push({ t: 'lit', v: parseNumber(num[0], sc) });
      i += num[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(s);
    if (m && m.index === i) {
      i = IDENT.lastIndex;
      const w = m[0];
      if (w === 'true' || w === 'false') toks.push({ t: 'lit', v: w === 'true' });
      else if (w === 'nil') toks.push({ t: 'lit', v: null });
      else toks.push({ t: 'ident', v: w });
      continue;
    }
    sc.err(`unexpected ${JSON.stringify(c)} in command`);
  }
  return toks;
}

function unquote(raw: string, sc: Scanner): string {
  // Go escapes: \a \b \f \n \r \t \v \\ \" \' \xNN \NNN \uNNNN \UNNNNNNNN
  let out = '';
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = raw[++i]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e in simple) out += simple[e];
    else if (e === 'x') {
      out += String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      out += String.fromCodePoint(parseInt(raw.slice(i + 1, i + 1 + n), 16));
      i += n;
    } else if (/[0-7]/.test(e)) {
      out += String.fromCharCode(parseInt(raw.slice(i, i + 3), 8));
      i += 2;
    } else sc.err(`invalid syntax: ${raw}`);
  }
  return out;
}

function parseNumber(s: string, sc: Scanner): number {
  const t = s.replace(/_/g, '');
  const neg = t.startsWith('-');
  const u = t.replace(/^[+-]/, '');
  let n: number;
  if (/^0[xX]/.test(u)) n = parseInt(u.slice(2), 16);
  else if (/^0[oO]/.test(u)) n = parseInt(u.slice(2), 8);
  else if (/^0[bB]/.test(u)) n = parseInt(u.slice(2), 2);
  else if (/^0[0-7]+$/.test(u)) n = parseInt(u, 8);
  else n = Number(u);
  if (Number.isNaN(n)) sc.err(`bad number syntax: "${s}"`);
  return neg ? -n : n;
}

// ---------------------------------------------------------------- parser

class Parser {
  private i = 0;
  constructor(private readonly parts: { text: string; action?: string; line: number }[]) {}

  parse(): Node[] {
    const { nodes, end } = this.list();
    if (end) throw new TemplateError(`template: :${end.line}: unexpected {{${end.word}}}`);
    return nodes;
  }

  /** Nodes up to an {{end}} / {{else …}} (returned as `end`) or the end of input. */
  private list(): { nodes: Node[]; end?: { word: string; rest: string; line: number } } {
    const nodes: Node[] = [];
    while (this.i < this.parts.length) {
      const p = this.parts[this.i++]!;
      if (p.text) nodes.push({ k: 'text', s: p.text });
      if (p.action === undefined) continue;
      const body = p.action.trim();
      if (body.startsWith('/*')) continue; // comment
      const kw = /^(if|range|with|else|end|break|continue|define|template|block)\b\s*([\s\S]*)$/.exec(body);
      if (!kw) {
        if (body === '') throw new TemplateError(`template: :${p.line}: missing value for command`);
        nodes.push({ k: 'action', pipe: parsePipeline(body, p.line, true) });
        continue;
      }
      const word = kw[1]!;
      const rest = kw[2]!;
      switch (word) {
        case 'end':
        case 'else':
          return { nodes, end: { word, rest, line: p.line } };
        case 'break':
        case 'continue':
          nodes.push({ k: word });
          break;
        case 'if':
        case 'with':
        case 'range':
          nodes.push(this.block(word, rest, p.line));
          break;
        default:
          throw new TemplateError(`template: :${p.line}: {{${word}}} is not supported`);
      }
    }
    return { nodes };
  }

  private block(word: 'if' | 'with' | 'range', rest: string, line: number): Node {
    if (!rest) throw new TemplateError(`template: :${line}: missing value for ${word}`);
    const pipe = parsePipeline(rest, line, word === 'range' ? 'range' : true);
    const { nodes: body, end } = this.list();
    if (!end) throw new TemplateError(`template: :${line}: unexpected EOF`);
    const node: { k: 'if' | 'with' | 'range'; pipe: Pipeline; body: Node[]; else?: Node[] } = { k: word, pipe, body };
    if (end.word === 'end') return node;
    // else / else if / else with
    const chained = /^(if|with)\b\s*([\s\S]*)$/.exec(end.rest);
    if (chained && word !== 'range') {
      node.else = [this.block(chained[1] as 'if' | 'with', chained[2]!, end.line)];
      return node;
    }
    if (end.rest) throw new TemplateError(`template: :${end.line}: unexpected "${end.rest}" in else`);
    const { nodes: elseBody, end: end2 } = this.list();
    if (!end2 || end2.word !== 'end') throw new TemplateError(`template: :${end.line}: expected end; found ${end2 ? end2.word : 'EOF'}`);
    node.else = elseBody;
    return node;
  }
}

function parsePipeline(src: string, line: number, allowDecl: boolean | 'range'): Pipeline {
  const toks = lexAction(src, line);
  const fail = (msg: string): never => {
    throw new TemplateError(`template: :${line}: ${msg}`);
  };
  let pos = 0;
  const decl: string[] = [];
  let assign = false;
  // declarations: $x := / $x = / (range) $i, $e :=
  if (allowDecl && toks[0]?.t === 'var' && toks[0].chain.length === 0) {
    const t1 = toks[1];
    if (t1?.t === 'op' && (t1.v === ':=' || t1.v === '=')) {
      decl.push(toks[0].name);
      assign = t1.v === '=';
      pos = 2;
    } else if (allowDecl === 'range' && t1?.t === 'op' && t1.v === ',' && toks[2]?.t === 'var' && toks[3]?.t === 'op' && toks[3].v === ':=') {
      decl.push(toks[0].name, toks[2].name);
      pos = 4;
    }
  }
  const cmds: Operand[][] = [];
  const parseCmds = (stopAtParen: boolean): Operand[][] => {
    const out: Operand[][] = [];
    let cmd: Operand[] = [];
    for (;;) {
      const t = toks[pos];
      if (!t || (t.t === 'op' && t.v === ')')) {
        if (t && !stopAtParen) fail('unexpected ")" in operand');
        if (!t && stopAtParen) fail('unclosed left paren');
        break;
      }
      pos++;
      if (t.t === 'op') {
        if (t.v === '|') {
          if (cmd.length === 0) fail('missing command before |');
          out.push(cmd);
          cmd = [];
          continue;
        }
        if (t.v === '(') {
          const sub = parseCmds(true);
          pos++; // ')'
          let chain: string[] = [];
          if (toks[pos]?.t === 'chain') chain = (toks[pos++] as { chain: string[] }).chain;
          if (sub.length === 0) fail('missing value for parenthesized pipeline');
          cmd.push({ k: 'sub', pipe: { decl: [], assign: false, cmds: sub, src, line }, chain });
          continue;
        }
        fail(`unexpected "${t.v}" in operand`);
      }
      if (t.t === 'field') cmd.push({ k: 'field', chain: t.chain });
      else if (t.t === 'var') cmd.push({ k: 'var', name: t.name, chain: t.chain });
      else if (t.t === 'ident') cmd.push({ k: 'ident', name: t.v });
      else if (t.t === 'lit') cmd.push({ k: 'lit', v: t.v });
      else fail('unexpected field chain');
    }
    if (cmd.length) out.push(cmd);
    else if (out.length) fail('missing command after |');
    return out;
  };
  cmds.push(...parseCmds(false));
  if (cmds.length === 0) fail('missing value for command');
  return { decl, assign, cmds, src, line };
}

// ---------------------------------------------------------------- execution

/** A template function: receives evaluated arguments (a piped value comes last). */
export type TemplateFunc = (...args: unknown[]) => unknown;

class BreakSignal {}
class ContinueSignal {}

interface Scope {
  vars: Map<string, unknown>;
  parent?: Scope;
}

function lookupVar(scope: Scope, name: string): unknown {
  for (let s: Scope | undefined = scope; s; s = s.parent) if (s.vars.has(name)) return s.vars.get(name);
  throw new TemplateError(`template: undefined variable: ${name}`);
}

function setVar(scope: Scope, name: string, v: unknown): void {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (s.vars.has(name)) {
      s.vars.set(name, v);
      return;
    }
  }
  throw new TemplateError(`template: undefined variable: ${name}`);
}

/** Go's truth: false, 0, nil, and empty strings/slices/maps are false. */
export function truth(v: unknown): boolean {
  if (isNil(v)) return false;
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'string':
      return v.length > 0;
    case 'function':
      return true;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (v instanceof Date) return true;
  return Object.keys(v as object).length > 0;
}

function field(v: unknown, name: string, path: string): unknown {
  if (v === undefined || v === null || v instanceof GoNil) {
    if (v instanceof GoNil && v.kind === 'map') return undefined;
    return undefined; // Go would fail with "nil pointer evaluating …"; Docker's map fallback prints <no value>
  }
  if (v instanceof Map) return v.get(name);
  if (typeof v !== 'object') throw new TemplateError(`template: executing at <${path}>: can't evaluate field ${name} in type ${typeof v === 'string' ? 'string' : typeof v === 'number' ? 'int' : typeof v}`);
  return Object.prototype.hasOwnProperty.call(v, name) || name in (v as object) ? (v as Record<string, unknown>)[name] : undefined;
}

class Exec {
  constructor(private readonly funcs: Record<string, TemplateFunc>) {}
  out: string[] = [];

  run(nodes: Node[], dot: unknown, scope: Scope): void {
    for (const n of nodes) this.node(n, dot, scope);
  }

  private node(n: Node, dot: unknown, scope: Scope): void {
    switch (n.k) {
      case 'text':
        this.out.push(n.s);
        return;
      case 'action': {
        const v = this.pipeline(n.pipe, dot, scope);
        if (n.pipe.decl.length === 0) this.out.push(printable(v));
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'if':
      case 'with': {
        const inner: Scope = { vars: new Map(), parent: scope };
        const v = this.pipeline(n.pipe, dot, inner);
        if (truth(v)) this.run(n.body, n.k === 'with' ? v : dot, inner);
        else if (n.else) this.run(n.else, dot, inner);
        return;
      }
      case 'range': {
        const inner: Scope = { vars: new Map(), parent: scope };
        const p = { ...n.pipe, decl: [] as string[] };
        const v = this.pipeline(p, dot, inner);
        const items: [unknown, unknown][] = [];
        if (isNil(v)) {
          // nothing
        } else if (Array.isArray(v)) v.forEach((e, i) => items.push([i, e]));
        else if (v instanceof Map) [...v.keys()].sort().forEach((k) => items.push([k, v.get(k)]));
        else if (typeof v === 'number' && Number.isInteger(v)) for (let i = 0; i < v; i++) items.push([i, i]);
        else if (typeof v === 'object') Object.keys(v as object).sort().forEach((k) => items.push([k, (v as Record<string, unknown>)[k]]));
        else throw new TemplateError(`template: :${n.pipe.line}: range can't iterate over ${goString(v)}`);
        if (items.length === 0) {
          if (n.else) this.run(n.else, dot, inner);
          return;
        }
        for (const [k, e] of items) {
          const iter: Scope = { vars: new Map(), parent: inner };
          if (n.pipe.decl.length === 1) iter.vars.set(n.pipe.decl[0]!, e);
          else if (n.pipe.decl.length === 2) {
            iter.vars.set(n.pipe.decl[0]!, k);
            iter.vars.set(n.pipe.decl[1]!, e);
          }
          try {
            this.run(n.body, e, iter);
          } catch (sig) {
            if (sig instanceof BreakSignal) break;
            if (sig instanceof ContinueSignal) continue;
            throw sig;
          }
        }
        return;
      }
    }
  }

  pipeline(p: Pipeline, dot: unknown, scope: Scope): unknown {
    let v: unknown;
    let piped = false;
    for (const cmd of p.cmds) {
      v = this.command(cmd, dot, scope, piped ? { v } : undefined, p);
      piped = true;
    }
    if (p.decl.length) {
      if (p.assign) setVar(scope, p.decl[0]!, v);
      else scope.vars.set(p.decl[0]!, v);
    }
    return v;
  }

  private command(cmd: Operand[], dot: unknown, scope: Scope, piped: { v: unknown } | undefined, p: Pipeline): unknown {
    const head = cmd[0]!;
    const argOps = cmd.slice(1);
    if (head.k === 'ident') {
      const name = head.name;
      if (name === 'and' || name === 'or') {
        const thunks: (() => unknown)[] = argOps.map((a) => () => this.operand(a, dot, scope, p));
        if (piped) thunks.push(() => piped.v);
        if (thunks.length === 0) throw new TemplateError(`template: :${p.line}: wrong number of args for ${name}: want at least 1 got 0`);
        let last: unknown;
        for (const t of thunks) {
          last = t();
          if (name === 'and' ? !truth(last) : truth(last)) return last;
        }
        return last;
      }
      const fn = this.funcs[name];
      if (!fn) throw new TemplateError(`template: :${p.line}: function "${name}" not defined`);
      const args = argOps.map((a) => this.operand(a, dot, scope, p));
      if (piped) args.push(piped.v);
      try {
        return fn(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw new TemplateError(`template: :${p.line}: executing "${p.src.trim()}" at <${name}>: error calling ${name}: ${(e as Error).message}`);
      }
    }
    if (head.k === 'lit' && head.v === null && cmd.length === 1 && !piped) {
      throw new TemplateError(`template: :${p.line}: nil is not a command`);
    }
    const v = this.operand(head, dot, scope, p);
    if (typeof v === 'function') {
      const args = argOps.map((a) => this.operand(a, dot, scope, p));
      if (piped) args.push(piped.v);
      return (v as TemplateFunc)(...args);
    }
    if (argOps.length || piped) {
      throw new TemplateError(`template: :${p.line}: executing "${p.src.trim()}": can't give argument to non-function ${describe(head)}`);
    }
    return v;
  }

  private operand(o: Operand, dot: unknown, scope: Scope, p: Pipeline): unknown {
    switch (o.k) {
      case 'lit':
        return o.v;
      case 'field':
        return this.chain(dot, o.chain, '.');
      case 'var':
        return this.chain(lookupVar(scope, o.name), o.chain, o.name);
      case 'sub':
        return this.chain(this.pipeline(o.pipe, dot, scope), o.chain, '(…)');
      case 'ident': {
        const fn = this.funcs[o.name];
        if (!fn) throw new TemplateError(`template: :${p.line}: function "${o.name}" not defined`);
        return fn();
      }
    }
  }

  private chain(v: unknown, chain: string[], base: string): unknown {
    let path = base === '.' ? '' : base;
    for (const name of chain) {
      path += '.' + name;
      v = field(v, name, path);
      if (typeof v === 'function') v = (v as () => unknown)();
    }
    return v;
  }
}

function describe(o: Operand): string {
  if (o.k === 'field') return '.' + o.chain.join('.');
  if (o.k === 'var') return o.name + o.chain.map((c) => '.' + c).join('');
  if (o.k === 'lit') return goString(o.v);
  return 'value';
}

function printable(v: unknown): string {
  return goString(v);
}

// ---------------------------------------------------------------- functions

function lenOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8'); // Go counts bytes
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v instanceof GoNil) return 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  throw new Error(`len of ${v === undefined || v === null ? 'nil pointer' : 'type ' + typeof v}`);
}

function indexOf(v: unknown, ...keys: unknown[]): unknown {
  for (const k of keys) {
    if (isNil(v)) {
      if (v instanceof GoNil && v.kind === 'map') return undefined;
      throw new Error('index of untyped nil');
    }
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new Error(`cannot index slice/array with type ${typeof k}`);
      const len = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
      if (k < 0 || k >= len) throw new Error(`index out of range: ${k}`);
      v = typeof v === 'string' ? Buffer.from(v)[k] : v[k];
    } else if (v instanceof Map) v = v.get(k);
    else if (typeof v === 'object') v = (v as Record<string, unknown>)[String(k)];
    else throw new Error(`can't index item of type ${typeof v}`);
  }
  return v;
}

function sliceOf(v: unknown, ...idx: unknown[]): unknown {
  const nums = idx.map((i) => {
    if (typeof i !== 'number' || !Number.isInteger(i)) throw new Error('cannot index slice with non-integer');
    return i;
  });
  const len = typeof v === 'string' ? v.length : Array.isArray(v) ? v.length : -1;
  if (len < 0) throw new Error(`can't slice item of type ${typeof v}`);
  const [a = 0, b = len] = nums;
  if (a < 0 || b > len || a > b) throw new Error(`index out of range: ${a}:${b}`);
  return (v as string | unknown[]).slice(a, b);
}

function basicKind(v: unknown): string {
  if (isNil(v)) return 'nil';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  return typeof v;
}

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) throw new Error('missing argument for comparison');
  for (const b of bs) {
    if (isNil(a) || isNil(b)) {
      if (isNil(a) && isNil(b)) return true;
      continue;
    }
    if (typeof a === 'object' || typeof b === 'object') throw new Error('non-comparable type');
    const ka = typeof a;
    const kb = typeof b;
    if (ka !== kb) throw new Error('incompatible types for comparison');
    if (a === b) return true;
  }
  return false;
}

function cmp(a: unknown, b: unknown): number {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if ((ka === 'int' || ka === 'float') && (kb === 'int' || kb === 'float')) return (a as number) - (b as number);
  if (ka === 'string' && kb === 'string') return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  if (ka !== kb) throw new Error('incompatible types for comparison');
  throw new Error('invalid type for comparison');
}

/** Go's fmt.Sprint: spaces between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goString(a === undefined ? null : a);
  });
  return out;
}

function asString(v: unknown, fn: string): string {
  if (typeof v === 'string') return v;
  throw new Error(`wrong type for value; expected string; got ${basicKind(v)} (in ${fn})`);
}

/** Go's builtins plus Docker CLI's (templates.basicFunctions). */
export const FUNCS: Record<string, TemplateFunc> = {
  not: (v) => !truth(v),
  len: (v) => lenOf(v),
  index: (v, ...k) => indexOf(v, ...k),
  slice: (v, ...i) => sliceOf(v, ...i),
  print: (...a) => sprint(a),
  println: (...a) => a.map((x) => goString(x === undefined ? null : x)).join(' ') + '\n',
  printf: (f, ...a) => goSprintf(asString(f, 'printf'), a),
  eq: (a, ...b) => eq(a, ...b),
  ne: (a, b) => !eq(a, b),
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  html: (...a) => sprint(a).replace(/[&<>"'\0]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;', '\0': '\uFFFD' })[c]!),
  js: (...a) => sprint(a).replace(/[\\'"<>&=\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '"' ? '\\"' : `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'),
  // Docker's additions
  json: (v) => goJson(v, { escapeHTML: false }),
  split: (s, sep) => asString(s, 'split').split(asString(sep, 'split')),
  join: (arr, sep) => {
    if (isNil(arr)) return '';
    if (!Array.isArray(arr)) throw new Error(`wrong type for value; expected []string; got ${basicKind(arr)}`);
    return arr.map((x) => goString(x)).join(asString(sep, 'join'));
  },
  title: (s) => asString(s, 'title').replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  lower: (s) => asString(s, 'lower').toLowerCase(),
  upper: (s) => asString(s, 'upper').toUpperCase(),
  pad: (s, pre, post) => ' '.repeat(Number(pre)) + asString(s, 'pad') + ' '.repeat(Number(post)),
  truncate: (s, n) => {
    const str = asString(s, 'truncate');
    const chars = [...str];
    return chars.length > Number(n) ? chars.slice(0, Number(n)).join('') : str;
  },
};

/** Docker's HeaderFunctions: in a table header, formatting functions pass the header through. */
export const HEADER_FUNCS: Record<string, TemplateFunc> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  pad: (v) => v,
  truncate: (v) => v,
};

// ---------------------------------------------------------------- public API

export interface CompiledTemplate {
  readonly source: string;
  /** Runs the template; `funcs` add to or override the built-in functions. */
  execute(data: unknown, funcs?: Record<string, TemplateFunc>): string;
}

const cache = new Map<string, Node[]>();

/** Parses a template once (throws TemplateError on a syntax error). */
export function compileTemplate(source: string): CompiledTemplate {
  let nodes = cache.get(source);
  if (!nodes) {
    nodes = new Parser(splitActions(source)).parse();
    if (cache.size > 100) cache.clear();
    cache.set(source, nodes);
  }
  const tree = nodes;
  return {
    source,
    execute(data: unknown, funcs?: Record<string, TemplateFunc>): string {
      const ex = new Exec(funcs ? { ...FUNCS, ...funcs } : FUNCS);
      const root: Scope = { vars: new Map([['$', data]]) };
      try {
        ex.run(tree, data, root);
      } catch (e) {
        if (e instanceof BreakSignal || e instanceof ContinueSignal) throw new TemplateError('template: {{break}} or {{continue}} outside {{range}}');
        throw e;
      }
      return ex.out.join('');
    },
  };
}

/** Renders a Go template against `data`: renderTemplate('{{.Id}}', {Id: 'sha256:…'}). */
export function renderTemplate(source: string, data: unknown, funcs?: Record<string, TemplateFunc>): string {
  return compileTemplate(source).execute(data, funcs);
}
