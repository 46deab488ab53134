export { parseDockerfile } from './parser.js';
export { processWord, processWords } from './shell-lex.js';
