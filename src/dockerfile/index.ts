// kiln's Dockerfile front end: the public library API (package export "./dockerfile").
//
//   parseDockerfile(text)            raw instructions, warnings, directives (BuildKit's AST level)
//   toInstruction(raw)               one typed instruction (discriminated union on `kind`)
//   processWord / processWords       Docker's shell-word expansion
//   createIgnoreMatcher(patterns)    .dockerignore matching (moby/patternmatcher rules)
//   planBuild(text, opts)            stage graph for --target/--build-arg, needed stages in order
//   selectSources(entries, sources)  what a COPY/ADD source selects from a tree of entries
//
// Everything here is pure except resolveIgnoreFile, which reads the ignore file from disk.

export { DockerfileError, FrontendError, type ErrorLocation } from './errors.js';
export {
  parseDockerfile,
  parseWords,
  extractBuilderFlags,
  type RawInstruction,
  type ParseResult,
  type ParseWarning,
  type ParseOptions,
} from './parser.js';
export { parseHeredocWord, heredocsFromLine, chompHeredocContent, type Heredoc } from './heredoc.js';
export {
  processWord,
  processWords,
  ShellLexError,
  type Env,
  type LexOptions,
  type WordResult,
} from './shell-lex.js';
export {
  toInstruction,
  toInstructions,
  resolveRunMounts,
  runScript,
  expandHeredoc,
  validateStageName,
  INSTRUCTION_NAMES,
  type Instruction,
  type InstructionKind,
  type CommandLine,
  type RunScript,
  type KeyValue,
  type ArgDefinition,
  type HeredocSource,
  type HealthConfig,
  type ToInstructionOptions,
  type FromInstruction,
  type RunInstruction,
  type CmdInstruction,
  type EntrypointInstruction,
  type CopyInstruction,
  type AddInstruction,
  type EnvInstruction,
  type LabelInstruction,
  type ArgInstruction,
  type ExposeInstruction,
  type VolumeInstruction,
  type UserInstruction,
  type WorkdirInstruction,
  type ShellInstruction,
  type StopSignalInstruction,
  type HealthcheckInstruction,
  type MaintainerInstruction,
  type OnbuildInstruction,
} from './instructions.js';
export { parseRunMount, readCsvRecord, MountError, type RunMount, type MountType, type MountSharing } from './run-mount.js';
export { parseChmod, applyChmod, ChmodError, type ChmodSpec, type ChmodClause } from './chmod.js';
export { parseDuration, formatDuration, DurationError } from './duration.js';
export { FlagSet, FlagError } from './flags.js';
export {
  planBuild,
  resolveStageArg,
  BUILTIN_BUILD_ARGS,
  type PlanOptions,
  type BuildPlan,
  type Stage,
  type StageBase,
  type StageReference,
  type GlobalArg,
} from './stages.js';
export { explainPlan } from './explain.js';
export { parsePlatform, formatPlatform, platformArgs, DEFAULT_PLATFORM, PlatformError, type Platform } from './platform.js';
export {
  createIgnoreMatcher,
  parseIgnoreFile,
  IgnorePattern,
  BadPatternError,
  type IgnoreMatcher,
} from './dockerignore.js';
export { resolveIgnoreFile, ignoreFileCandidates, type IgnoreFile } from './ignore-file.js';
export {
  EntryIndex,
  filterWalk,
  compareWalkOrder,
  normalizeEntryPath,
  type ContextEntry,
  type EntryType,
  type WalkFilter,
  type WalkedEntry,
} from './walk.js';
export {
  selectSources,
  placeMatches,
  resolveCopyDest,
  ContextSelectError,
  type SelectOptions,
  type SourceMatch,
  type Selection,
  type SelectErrorCode,
  type PlaceOptions,
  type Placement,
} from './context-select.js';
export { cleanPath, matchPath } from './gopath.js';
