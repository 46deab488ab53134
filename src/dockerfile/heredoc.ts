// Heredoc openers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`, `<< EOF`) as BuildKit reads them
// (parser/parser.go: ParseHeredoc, heredocsFromLine, ChompHeredocContent).

import { heredocLineWords, processWords, ShellLexError } from './shell-lex.js';

export interface Heredoc {
  /** Delimiter with quotes removed: `<<"EOF"` gives "EOF". */
  name: string;
  /** Body between the opener line and the terminator; every line keeps its newline. Not tab-stripped. */
  content: string;
  /** False when any part of the delimiter was quoted: the body is then used verbatim. */
  expand: boolean;
  /** `<<-`: leading tabs are removed from body lines (see chompHeredocContent) and from the terminator. */
  chomp: boolean;
  /** `3<<EOF` gives 3; 0 when not given. */
  fileDescriptor: number;
}

const heredocRe = /^([0-9]*)<<(-?)([^<]*)$/u;

/**
 * Parse one word as a heredoc opener. Returns null when it is not one (`<<`, `<EOF`,
 * `<<EOF sh`, ...). Throws on an unterminated quote (`<<'EOF`).
 */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | null {
  const m = heredocRe.exec(word);
  if (!m) return null;
  const fd = m[1] === '' ? 0 : Number.parseInt(m[1]!, 10);
  const chomp = m[2] === '-';
  const rest = m[3]!;
  if (rest.length === 0) return null;

  // Lex the delimiter with and without quote removal: if the counts of quote characters
  // differ, part of it was quoted and the body must not be expanded.
  const words = processWords(rest, {}, { skipUnsetEnv: true });
  if (words.length !== 1) return null;
  const raw = processWords(rest, {}, { skipUnsetEnv: true, rawQuotes: true });
  if (raw.length !== words.length) {
    throw new ShellLexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const word0 = words[0]!;
  const raw0 = raw[0]!;
  const expand = countQuotes(word0) === countQuotes(raw0);
  return { name: word0, expand, chomp, fileDescriptor: Number.isSafeInteger(fd) ? fd : 0 };
}

function countQuotes(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === "'" || ch === '"') n++;
  return n;
}

/** Heredoc openers on an instruction line, in order (bodies not read yet). */
export function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  const docs: Omit<Heredoc, 'content'>[] = [];
  for (const word of heredocLineWords(line)) {
    const h = parseHeredocWord(word);
    if (h) docs.push(h);
  }
  return docs;
}

/** `<<-` bodies: remove every run of leading tabs at the start of each line (spaces stay). */
export function chompHeredocContent(content: string): string {
  // Go's (?m)^ only matches after \n, so the JS m flag (which also honours \r) is not used.
  return content.replace(/(^|\n)\t+/g, '$1');
}
