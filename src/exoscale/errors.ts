import { ExollamaError, type ErrorKind } from '../shared/index.js'
import type { OperationReason, OperationState } from './schema-types.js'

/** The stable error codes of the Exoscale client (docs/architecture.md, "Exoscale error mapping"). */
export const EXOSCALE_ERROR_CODES = [
  'exoscale_invalid_credentials',
  'exoscale_not_found',
  'exoscale_conflict',
  'exoscale_bad_request',
  'exoscale_quota_exceeded',
  'exoscale_rate_limited',
  'exoscale_capacity_unavailable',
  'exoscale_server_error',
  'exoscale_network',
  'exoscale_operation_failed',
  'exoscale_operation_timeout',
] as const

export type ExoscaleErrorCode = (typeof EXOSCALE_ERROR_CODES)[number]

/** What each code means for the user: fix a setting, the cloud failed, or a deadline passed. */
export const EXOSCALE_ERROR_KINDS: Readonly<Record<ExoscaleErrorCode, ErrorKind>> = {
  exoscale_invalid_credentials: 'config',
  exoscale_not_found: 'config',
  exoscale_conflict: 'cloud',
  exoscale_bad_request: 'config',
  exoscale_quota_exceeded: 'config',
  exoscale_rate_limited: 'cloud',
  exoscale_capacity_unavailable: 'cloud',
  exoscale_server_error: 'cloud',
  exoscale_network: 'cloud',
  exoscale_operation_failed: 'cloud',
  exoscale_operation_timeout: 'timeout',
}

/** The operation an error is about (failed, timed out, or being waited for). */
export interface ExoscaleErrorOperation {
  id?: string | undefined
  state?: OperationState | string | undefined
  reason?: OperationReason | string | undefined
  message?: string | undefined
  command?: string | undefined
  referenceId?: string | undefined
}

export interface ExoscaleErrorDetails {
  /** HTTP status of the response, when there was one. */
  status?: number | undefined
  method?: string | undefined
  /** The URL path (without query) of the request. */
  path?: string | undefined
  /** The request id the API returned, if any. */
  requestId?: string | undefined
  /** The API's own message, one line, secrets removed. */
  apiMessage?: string | undefined
  /** The delay the API asked for (Retry-After), in milliseconds. */
  retryAfterMs?: number | undefined
  /** How many attempts were made (retries included). */
  attempts?: number | undefined
  operation?: ExoscaleErrorOperation | undefined
  cause?: unknown
}

/**
 * Every failure of the Exoscale client. `code` is one of EXOSCALE_ERROR_CODES and picks `kind`.
 * Carries the request's method, path, status and request id, never its headers or the secret.
 */
export class ExoscaleError extends ExollamaError {
  override name = 'ExoscaleError'
  declare readonly code: ExoscaleErrorCode
  readonly status: number | undefined
  readonly method: string | undefined
  readonly path: string | undefined
  readonly requestId: string | undefined
  readonly apiMessage: string | undefined
  readonly retryAfterMs: number | undefined
  readonly attempts: number | undefined
  readonly operation: ExoscaleErrorOperation | undefined

  constructor(code: ExoscaleErrorCode, message: string, details: ExoscaleErrorDetails = {}) {
    super(code, message, {
      kind: EXOSCALE_ERROR_KINDS[code],
      ...(details.cause === undefined ? {} : { cause: details.cause }),
    })
    this.status = details.status
    this.method = details.method
    this.path = details.path
    this.requestId = details.requestId
    this.apiMessage = details.apiMessage
    this.retryAfterMs = details.retryAfterMs
    this.attempts = details.attempts
    this.operation = details.operation
  }

  /** Structured form for logs and JSON output (no cause: it may be large). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, kind: this.kind }
    out.message = this.message
    for (const key of [
      'status',
      'method',
      'path',
      'requestId',
      'apiMessage',
      'retryAfterMs',
      'attempts',
      'operation',
    ] as const) {
      if (this[key] !== undefined) out[key] = this[key]
    }
    return out
  }
}

/** Whether `error` is an ExoscaleError, optionally with one of the given codes. */
export function isExoscaleError(
  error: unknown,
  ...codes: ExoscaleErrorCode[]
): error is ExoscaleError {
  return error instanceof ExoscaleError && (codes.length === 0 || codes.includes(error.code))
}
