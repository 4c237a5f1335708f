import { isExollamaError, type ErrorKind } from '../shared/index.js'
import { InterruptedError } from './errors.js'

/**
 * Distinct exit codes per error class, so scripts can tell a typo from an outage. `kind` of an
 * ExollamaError picks the code; anything else is internal.
 */
export const EXIT_CODES = {
  ok: 0,
  /** A bug or an unexpected condition. */
  internal: 1,
  /** The command line was wrong: unknown command or option, missing or bad argument. */
  usage: 2,
  /** A setting is invalid or missing, or the named thing (setting, key) does not exist. */
  config: 3,
  /** Exoscale or the instance refused or failed (credentials, quota, capacity, network). */
  cloud: 4,
  /** A deadline passed (start --timeout, EXOLLAMA_WAKE_TIMEOUT). */
  timeout: 5,
  /** Interrupted by SIGINT/SIGTERM before the work was done. */
  interrupted: 130,
} as const satisfies Record<ErrorKind | 'ok' | 'interrupted', number>

/** The exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return EXIT_CODES.interrupted
  return isExollamaError(error) ? EXIT_CODES[error.kind] : EXIT_CODES.internal
}

/** The exit-code table for the top-level `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    internal error (a bug: rerun with --verbose and report it)
  2    usage error (unknown command or option, missing or bad argument)
  3    configuration error (bad or missing setting, unknown setting or key)
  4    cloud error (Exoscale or the instance refused or failed)
  5    timeout (a deadline passed, e.g. start --timeout)
  130  interrupted (Ctrl-C or SIGTERM)`
