import type { Clock } from '../shared/index.js'

/** Somewhere text goes: process.stdout/stderr, or a test's capture. */
export interface CliOutput {
  write(chunk: string): unknown
  /** True on a terminal: live progress and (without NO_COLOR) colours. */
  isTTY?: boolean | undefined
  /** Terminal width, when known. */
  columns?: number | undefined
}

/** Somewhere text comes from (only `config set NAME -` reads it). */
export type CliInput = AsyncIterable<string | Buffer> & { isTTY?: boolean | undefined }

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: CliOutput
  stderr: CliOutput
  /** The environment (process.env at the edge; an object in tests). */
  env: Readonly<Record<string, string | undefined>>
  stdin?: CliInput
  /** Aborts when the process is asked to stop (SIGINT/SIGTERM): `serve` and `logs -f` end then. */
  shutdownSignal?: AbortSignal
  /** Time: elapsed times, `logs -f` polling, the live progress ticker. Default: the system clock. */
  clock?: Clock
}
