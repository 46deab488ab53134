export { parseDockerfile } from './parser.js';
export { processWord, processWords } from './shell-lex.js';
export { toInstruction } from './instructions.js';
export { createIgnoreMatcher } from './dockerignore.js';
