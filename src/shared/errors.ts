/**
 * The error base of every layer. `code` is stable and machine-readable (snake_case); `message` is
 * one line that says what is wrong and what to do; `kind` decides the CLI exit code; `cause` keeps
 * the low-level error. Messages never contain secrets.
 */
export type ErrorKind =
  /** The command line was wrong (unknown flag, missing argument). */
  | 'usage'
  /** A setting is missing or invalid, or the user asked for something that does not exist. */
  | 'config'
  /** The cloud (or the instance) refused or failed. */
  | 'cloud'
  /** A deadline passed. */
  | 'timeout'
  /** A bug or an unexpected condition. */
  | 'internal'

export interface ExollamaErrorOptions {
  kind?: ErrorKind
  cause?: unknown
}

export class ExollamaError extends Error {
  override name = 'ExollamaError'
  readonly code: string
  readonly kind: ErrorKind

  constructor(code: string, message: string, options: ExollamaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.kind = options.kind ?? 'internal'
  }
}

/** Something the user can fix: bad input, a missing setting, an unknown zone. */
export class UserError extends ExollamaError {
  override name = 'UserError'

  constructor(code: string, message: string, options: ExollamaErrorOptions = {}) {
    super(code, message, { kind: 'config', ...options })
  }
}

export function isExollamaError(error: unknown): error is ExollamaError {
  return error instanceof ExollamaError
}

/** The message of anything thrown, for places that must turn an unknown into one line. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
