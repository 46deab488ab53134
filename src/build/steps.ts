// A build step as the executor runs it: one Dockerfile instruction after variable expansion, with
// everything it needs and nothing of the Dockerfile's syntax. expand.ts turns the front end's typed
// instructions into these, using the environment and build args in scope at that point.
import type { HealthConfig } from '../image/types.js';
import type { RunMount } from '../dockerfile/run-mount.js';
import type { CommandLine, RunScript } from '../dockerfile/instructions.js';

export interface Location {
  file: string;
  line: number;
  /** The instruction as written (first line), for messages and progress. */
  text: string;
}

/** A heredoc used as a COPY/ADD source, its content already expanded where it should be. */
export interface HeredocFile {
  name: string;
  content: string;
}

export type Step =
  | {
      kind: 'RUN';
      /** What runs: exec args, a shell command (run with the image's SHELL) or a `#!` heredoc file. */
      script: RunScript;
      mounts: RunMount[];
      network: 'default' | 'none' | 'host';
    }
  | {
      kind: 'COPY' | 'ADD';
      sources: string[];
      dest: string;
      from?: string;
      chown?: string;
      chmod?: string;
      link: boolean;
      parents: boolean;
      exclude: string[];
      checksum?: string;
      keepGitDir?: boolean;
      unpack?: boolean;
      heredocs: HeredocFile[];
      display: string;
    }
  | { kind: 'WORKDIR'; path: string }
  | { kind: 'ENV'; pairs: [string, string][] }
  | { kind: 'LABEL'; pairs: [string, string][] }
  | { kind: 'ARG'; args: { name: string; value?: string }[] }
  | { kind: 'USER'; user: string }
  | { kind: 'EXPOSE'; ports: string[] }
  | { kind: 'VOLUME'; paths: string[] }
  | { kind: 'STOPSIGNAL'; signal: string }
  | { kind: 'HEALTHCHECK'; health: HealthConfig }
  | { kind: 'SHELL'; shell: string[] }
  | { kind: 'CMD' | 'ENTRYPOINT'; command: CommandLine }
  | { kind: 'MAINTAINER'; name: string }
  | { kind: 'ONBUILD'; expression: string };
