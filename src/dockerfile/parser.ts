// The Dockerfile parser at the level of BuildKit's "dumb" AST parser
// (frontend/dockerfile/parser): it turns text into raw instructions and expands nothing.
//
//  * parser directives (`# syntax=`, `# escape=`, `# check=`) from the leading comment lines;
//  * the escape character (`\` or `` ` ``), which drives line continuations, flags and word splitting;
//  * continuations keep the indentation of continued lines; comment lines and blank lines
//    inside a continuation are dropped (blank ones with a warning);
//  * `#` starts a comment only as the first non-blank character of an instruction line;
//  * flags (`--x=y`) are peeled off every instruction, quotes and escapes removed;
//  * arguments are split per instruction: JSON (exec) form or shell form for RUN/CMD/
//    ENTRYPOINT/SHELL, whitespace lists for FROM/EXPOSE, key/value triples for ENV/LABEL, ...
//  * heredocs for RUN/COPY/ADD (also under ONBUILD) consume the following lines;
//  * a physical line may not exceed 65535 bytes (bufio.Scanner's limit upstream).
//
// Unknown instructions are accepted here and rejected by toInstruction, like upstream.

import { DockerfileError, locate } from './errors.js';
import { heredocsFromLine, type Heredoc } from './heredoc.js';
import { goQuote, isSpace, trimLeftSpace, trimSpace, utf8Length } from './text.js';

export type { Heredoc } from './heredoc.js';

export interface RawInstruction {
  /** The instruction word as written: 'RUN', 'run', 'Cmd', or an unknown word. */
  keyword: string;
  /** Leading `--flag[=value]` words with quotes and escapes removed. */
  flags: string[];
  /**
   * Argument nodes (BuildKit's Node.Next chain): one per JSON element, one per word, or one
   * string for shell form; ENV/LABEL give key, value, separator triples; ONBUILD gives none.
   */
  args: string[];
  /** ONBUILD only: the nested instruction. */
  next?: RawInstruction;
  /** Heredoc bodies read after this instruction, in order. */
  heredocs: Heredoc[];
  /** 1-based first physical line. */
  startLine: number;
  /** Last physical line consumed (continuation, comment, blank and heredoc lines included). */
  endLine: number;
  /** The instruction text after joining continuation lines (heredoc bodies excluded). */
  original: string;
  /** Arguments were given in JSON (exec) form. */
  json: boolean;
  /** The comment block right above the instruction (used for ARG/FROM doc comments). */
  comments: string[];
}

export interface ParseWarning {
  message: string;
  detail?: string;
  url?: string;
  /** First line of the instruction the warning is about. */
  line?: number;
  endLine?: number;
}

export interface ParseResult {
  instructions: RawInstruction[];
  warnings: ParseWarning[];
  /** Parser directives found at the top of the file, by lower-case name. */
  directives: Record<string, string>;
  /** The escape character in effect ('\\' or '`'). */
  escapeChar: string;
}

export interface ParseOptions {
  /** Name used in error messages; "Dockerfile" by default. */
  filename?: string;
}

/** Maximum bytes of a physical line, newline included (Go's bufio.MaxScanTokenSize). */
const MAX_LINE_BYTES = 64 * 1024;

const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
// Go's \s is [\t\n\f\r ] and its . is anything but \n.
const directiveRe = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/u;
const asciiWhitespaceRun = /[\t\v\f\r ]+/u;

class Directives {
  escapeChar = '\\';
  private continuation = continuationRegExp('\\');
  private done = false;
  private readonly seen = new Set<string>();
  readonly values: Record<string, string> = {};

  /** Look for a directive on a (left-trimmed) line; returns true if the line was one. */
  check(line: string): boolean {
    if (this.done) return false;
    const m = directiveRe.exec(line);
    if (!m) {
      this.done = true;
      return false;
    }
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return false;
    }
    if (this.seen.has(key)) throw new Error(`only one ${key} parser directive can be used`);
    this.seen.add(key);
    const value = m[2]!;
    if (key === 'escape') this.setEscape(value);
    this.values[key] = value;
    return true;
  }

  private setEscape(s: string): void {
    if (s !== '`' && s !== '\\') throw new Error(`invalid escape token '${s}' does not match \` or \\`);
    this.escapeChar = s;
    this.continuation = continuationRegExp(s);
  }

  /** Strip a trailing continuation token; returns [line, isEndOfLine]. */
  trimContinuation(line: string): [string, boolean] {
    const re = this.continuation;
    if (re.test(line)) return [line.replace(re, '$1'), false];
    return [line, true];
  }
}

// The escape character continues a line when it is the last non-blank character and is
// not itself escaped (`foo\\` does not continue; upstream cannot see `foo\\\` either).
function continuationRegExp(esc: string): RegExp {
  const e = esc === '\\' ? '\\\\' : esc;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`, 'u');
}

function trimNewline(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === '\n' || s[end - 1] === '\r')) end--;
  return s.slice(0, end);
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

function isEmptyContinuationLine(line: string): boolean {
  return trimLeftSpace(trimNewline(line)).length === 0;
}

/** Splits text into physical lines that keep their '\n', like BuildKit's scanLines. */
class LineReader {
  private pos = 0;
  /** Lines handed out so far (= 1-based number of the last line returned). */
  count = 0;
  constructor(private readonly text: string, private readonly file: string) {}

  next(): string | null {
    if (this.pos >= this.text.length) return null;
    const nl = this.text.indexOf('\n', this.pos);
    const end = nl < 0 ? this.text.length : nl + 1;
    const line = this.text.slice(this.pos, end);
    const limit = nl < 0 ? MAX_LINE_BYTES - 1 : MAX_LINE_BYTES;
    // A UTF-16 code unit is at most 3 UTF-8 bytes: only long lines need measuring.
    if (line.length * 3 > limit && utf8Length(line) > limit) {
      throw new DockerfileError(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES - 1}`, {
        file: this.file,
        line: this.count + 1,
      });
    }
    this.pos = end;
    this.count++;
    return line;
  }
}

/** Parse a whole Dockerfile into raw instructions. Throws DockerfileError on a syntax error. */
export function parseDockerfile(text: string, opts: ParseOptions = {}): ParseResult {
  const file = opts.filename ?? 'Dockerfile';
  const d = new Directives();
  const reader = new LineReader(text.startsWith('\ufeff') ? text.slice(1) : text, file);
  const instructions: RawInstruction[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];

  // processLine: drop the newline, optionally the indentation, test for a directive and
  // blank out comment lines.
  const processLine = (raw: string, stripLeft: boolean, lineNo: number): [string, boolean] => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeftSpace(token);
    let directive: boolean;
    try {
      directive = d.check(token);
    } catch (e) {
      throw locate(e, { file, line: lineNo });
    }
    return [isComment(token) ? '' : token, directive];
  };

  for (let raw = reader.next(); raw !== null; raw = reader.next()) {
    const lineNo = reader.count;
    if (isComment(raw)) {
      const comment = trimSpace(trimLeftSpace(raw).slice(1));
      if (comment === '') comments = [];
      else comments.push(comment);
    }
    const [first, directive] = processLine(raw, true, lineNo);
    if (directive) comments.pop();
    const startLine = lineNo;
    let [line, isEndOfLine] = d.trimContinuation(first);
    if (isEndOfLine && line === '') {
      // A blank line ends the comment block that documents the next instruction.
      if (!isComment(raw)) comments = [];
      continue;
    }

    let hasEmptyContinuationLine = false;
    while (!isEndOfLine) {
      const cont = reader.next();
      if (cont === null) break;
      const [processed] = processLine(cont, false, reader.count);
      if (isComment(cont)) continue; // comment lines inside a continuation vanish
      if (isEmptyContinuationLine(processed)) {
        hasEmptyContinuationLine = true;
        continue;
      }
      let part: string;
      [part, isEndOfLine] = d.trimContinuation(processed);
      line += part;
    }

    if (hasEmptyContinuationLine) {
      warnings.push({
        message: 'Empty continuation line found in: ' + line,
        detail: 'Empty continuation lines will become errors in a future release',
        url: 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/',
        line: startLine,
        endLine: reader.count,
      });
    }

    let node: RawInstruction;
    try {
      node = nodeFromLine(line, d, comments);
    } catch (e) {
      throw locate(e, { file, line: startLine, endLine: reader.count, instruction: firstWord(line) });
    }

    if (canContainHeredoc(node) && line.includes('<<')) {
      let openers: Omit<Heredoc, 'content'>[];
      try {
        openers = heredocsFromLine(line);
      } catch (e) {
        throw locate(e, { file, line: startLine, endLine: reader.count, instruction: node.keyword });
      }
      for (const h of openers) {
        let content = '';
        let terminated = false;
        for (let body = reader.next(); body !== null; body = reader.next()) {
          let candidate = trimNewline(body);
          if (h.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === h.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) {
          throw new DockerfileError('unterminated heredoc', {
            file,
            line: startLine,
            endLine: reader.count,
            instruction: node.keyword,
          });
        }
        node.heredocs.push({ ...h, content });
      }
      if (node.next) node.next.heredocs = node.heredocs;
    }

    setLines(node, startLine, reader.count);
    instructions.push(node);
    comments = [];
  }

  if (instructions.length === 0) {
    throw new DockerfileError('file with no instructions', { file, line: Math.max(reader.count, 1) });
  }
  return { instructions, warnings, directives: { ...d.values }, escapeChar: d.escapeChar };
}

function setLines(node: RawInstruction, start: number, end: number): void {
  node.startLine = start;
  node.endLine = end;
  if (node.next) setLines(node.next, start, end);
}

function firstWord(line: string): string {
  return trimSpace(line).split(asciiWhitespaceRun, 1)[0] ?? '';
}

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);

function canContainHeredoc(node: RawInstruction): boolean {
  let n = node;
  if (n.keyword.toLowerCase() === 'onbuild' && n.next) n = n.next;
  return HEREDOC_INSTRUCTIONS.has(n.keyword.toLowerCase()) && !n.json;
}

// ---------------------------------------------------------------------------------------
// One logical line -> one node

interface ArgsResult {
  args: string[];
  json?: boolean;
  next?: RawInstruction;
}

type LineParser = (rest: string, d: Directives) => ArgsResult;

const dispatch: Record<string, LineParser> = {
  add: parseMaybeJSONToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: (rest, d) => parseNameVal(rest, 'ENV', d),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, d) => parseNameVal(rest, 'LABEL', d),
  maintainer: parseString,
  onbuild: parseSubCommand,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};

function nodeFromLine(line: string, d: Directives, comments: string[]): RawInstruction {
  const { cmd, flags, rest } = splitCommand(line);
  const fn = dispatch[cmd.toLowerCase()];
  // Unknown instructions keep one empty argument, like upstream's parseIgnore.
  const parsed: ArgsResult = fn ? fn(rest, d) : { args: [''] };
  const node: RawInstruction = {
    keyword: cmd,
    flags,
    args: parsed.args,
    heredocs: [],
    startLine: 0,
    endLine: 0,
    original: line,
    json: !!parsed.json,
    comments: [...comments],
  };
  if (parsed.next) node.next = parsed.next;
  return node;
}

function splitCommand(line: string): { cmd: string; flags: string[]; rest: string } {
  const trimmed = trimSpace(line);
  const m = asciiWhitespaceRun.exec(trimmed);
  if (!m) return { cmd: trimmed, flags: [], rest: '' };
  const cmd = trimmed.slice(0, m.index);
  const { rest, flags } = extractBuilderFlags(trimmed.slice(m.index + m[0].length));
  return { cmd, flags, rest: trimSpace(rest) };
}

/**
 * Peel `--flag` words off the front of the arguments. Quotes group and are removed; a
 * backslash escapes the next character (upstream hard-codes `\` here, whatever the escape
 * directive says); a bare `--` ends the flags and is dropped.
 */
export function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const chars = Array.from(line);
  // Offsets in code units, to return the remainder as a slice of the input.
  const offsets: number[] = [];
  let off = 0;
  for (const c of chars) {
    offsets.push(off);
    off += c.length;
  }
  offsets.push(off);

  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;

  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = pos < chars.length ? chars[pos]! : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      // Only keep going if the next word starts with --
      if (ch !== '-' || pos + 1 === chars.length || chars[pos + 1] !== '-') {
        return { rest: line.slice(offsets[pos]), flags: words };
      }
      phase = 'word';
    }
    if (pos === chars.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(offsets[pos]), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      let c = ch;
      if (c === '\\') {
        if (pos + 1 === chars.length) continue; // a \ at the end is skipped
        pos++;
        c = chars[pos]!;
      }
      word += c;
      continue;
    }
    // inside quotes
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    let c = ch;
    if (c === '\\') {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      c = chars[pos]!;
    }
    word += c;
  }
  return { rest: '', flags: words };
}

function parseSubCommand(rest: string, d: Directives): ArgsResult {
  if (rest === '') return { args: [] };
  return { args: [], next: nodeFromLine(rest, d, []) };
}

/**
 * Split ENV/LABEL/ARG arguments on unquoted whitespace, KEEPING quotes and escapes (they are
 * removed later, at expansion time). An escape character at the very end is dropped.
 */
export function parseWords(rest: string, escapeChar = '\\'): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let buf = '';

  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos]! : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || buf.length > 0) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOK || buf.length > 0) words.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escapeChar) {
        if (pos + 1 === chars.length) continue; // skip an escape at the end of the line
        // Unquoted, the escape and the next character (even a quote) go in together.
        buf += ch;
        pos++;
        ch = chars[pos]!;
      }
      buf += ch;
      continue;
    }
    // inside quotes
    if (ch === quote) phase = 'word';
    // The escape character is special except inside single quotes.
    if (ch === escapeChar && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      buf += ch;
      ch = chars[pos]!;
    }
    buf += ch;
  }
  return words;
}

// ENV/LABEL: either the legacy `KEY value with spaces` or `k=v k2="v 2" ...`.
function parseNameVal(rest: string, key: string, d: Directives): ArgsResult {
  const words = parseWords(rest, d.escapeChar);
  if (words.length === 0) return { args: [] };
  if (!words[0]!.includes('=')) {
    const m = asciiWhitespaceRun.exec(rest);
    if (!m) throw new Error(`${key} must have two arguments`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''] };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new Error(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args };
}

// ARG: one node per word (`name` or `name=value`), quotes kept.
function parseNameOrNameVal(rest: string, d: Directives): ArgsResult {
  return { args: parseWords(rest, d.escapeChar) };
}

function parseStringsWhitespaceDelimited(rest: string): ArgsResult {
  if (rest === '') return { args: [] };
  return { args: rest.split(/[\t\v\f\r ]+/u) };
}

function parseString(rest: string): ArgsResult {
  if (rest === '') return { args: [] };
  return { args: [rest] };
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** Exec form: a JSON array of strings. null when the text is not JSON at all. */
function parseJSON(rest: string): string[] | null {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  for (const v of value) if (typeof v !== 'string') throw new Error(NOT_STRING_ARRAY);
  // Go decodes an escaped lone surrogate (\ud800) as U+FFFD.
  return (value as string[]).map((v) => v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

// RUN/CMD/ENTRYPOINT/SHELL: JSON array, else the whole rest as one shell-form string.
function parseMaybeJSON(rest: string): ArgsResult {
  if (rest === '') return { args: [] };
  const json = parseJSON(rest);
  if (json) return { args: json, json: true };
  return { args: [rest] };
}

// ADD/COPY/VOLUME: JSON array, else whitespace-separated words (quotes mean nothing).
function parseMaybeJSONToList(rest: string): ArgsResult {
  const json = parseJSON(rest);
  if (json) return { args: json, json: true };
  return parseStringsWhitespaceDelimited(rest);
}

// HEALTHCHECK: the type word (CMD, NONE, ...) then the command as for CMD.
function parseHealthConfig(rest: string): ArgsResult {
  const chars = Array.from(rest);
  let sep = 0;
  while (sep < chars.length && !isSpace(chars[sep]!)) sep++;
  let next = sep;
  while (next < chars.length && isSpace(chars[next]!)) next++;
  if (sep === 0) return { args: [] };
  const typ = chars.slice(0, sep).join('');
  const cmd = parseMaybeJSON(chars.slice(next).join(''));
  return { args: [typ, ...cmd.args], json: !!cmd.json };
}
