import { redactSecrets, type Secret } from '../shared/index.js'
import { ExoscaleError, type ExoscaleErrorCode } from './errors.js'
import type { Operation } from './schema-types.js'

const MAX_MESSAGE = 300

/** Collapses whitespace and truncates, so an API message fits in a one-line error. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE - 1)}…` : flat
}

function asText(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

/** One entry of an RFC 9457 `errors` array: a string or an object with a detail/message. */
function problemEntry(entry: unknown): string | undefined {
  if (typeof entry === 'string') return asText(entry)
  if (entry && typeof entry === 'object') {
    const e = entry as Record<string, unknown>
    const text = asText(e.detail) ?? asText(e.message) ?? asText(e.title)
    const where = asText(e.location) ?? asText(e.field) ?? asText(e.pointer)
    if (text) return where ? `${where}: ${text}` : text
  }
  return undefined
}

/**
 * The human message inside an Exoscale error body, whatever its shape: `{"message"}`,
 * `{"error"}` (string or object), RFC 9457 problem details (`title`, `detail`, `errors[]`), a
 * JSON string, or plain text. Undefined for an empty body. Never throws.
 */
export function parseErrorBody(text: string): string | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  let json: unknown
  try {
    json = JSON.parse(trimmed)
  } catch {
    // Plain text (or HTML from a proxy): drop tags and keep the words.
    const plain = oneLine(trimmed.replace(/<[^>]*>/g, ' '))
    return plain === '' ? undefined : plain
  }
  if (typeof json === 'string') return asText(json) && oneLine(json)
  if (!json || typeof json !== 'object' || Array.isArray(json)) return oneLine(trimmed)
  const body = json as Record<string, unknown>
  const error = body.error
  const fromError =
    asText(error) ??
    (error && typeof error === 'object'
      ? (asText((error as Record<string, unknown>).message) ??
        asText((error as Record<string, unknown>).detail))
      : undefined)
  const head =
    asText(body.message) ??
    fromError ??
    [asText(body.title), asText(body.detail)].filter(Boolean).join(': ')
  const details = Array.isArray(body.errors)
    ? body.errors.map(problemEntry).filter((e): e is string => e !== undefined)
    : []
  const parts = [head, ...details].filter((p) => p !== '' && p !== undefined)
  return parts.length > 0 ? oneLine(parts.join('; ')) : oneLine(trimmed)
}

const QUOTA_RE = /\bquota\b|limit exceeded|exceeds? (?:the |your )?limit/i
const CAPACITY_RE =
  /\bcapacity\b|insufficient (?:resources|gpus?|hosts?)|no (?:more )?(?:resources|hosts?) available/i

/** The code for an HTTP error status and the API's message. */
export function codeForStatus(status: number, apiMessage = ''): ExoscaleErrorCode {
  const quota = QUOTA_RE.test(apiMessage)
  const capacity = CAPACITY_RE.test(apiMessage)
  if (status === 429) return 'exoscale_rate_limited'
  if (status >= 500) return capacity ? 'exoscale_capacity_unavailable' : 'exoscale_server_error'
  if (status === 404) return 'exoscale_not_found'
  if (quota) return 'exoscale_quota_exceeded'
  if (status === 401 || status === 403) return 'exoscale_invalid_credentials'
  if (capacity) return 'exoscale_capacity_unavailable'
  if (status === 409 || status === 412) return 'exoscale_conflict'
  if (status >= 400) return 'exoscale_bad_request'
  return 'exoscale_server_error'
}

const ADVICE: Readonly<Record<ExoscaleErrorCode, string>> = {
  exoscale_invalid_credentials:
    "Exoscale rejected the API credentials: check EXOSCALE_API_KEY / EXOSCALE_API_SECRET (and the key's IAM role) and that this machine's clock is correct",
  exoscale_not_found:
    'Exoscale has no such resource: check the name or id and the zone (EXOSCALE_ZONE)',
  exoscale_conflict:
    "Exoscale refused the change in the resource's current state: wait for pending operations, then retry",
  exoscale_bad_request:
    'Exoscale rejected the request as invalid: check the settings (zone, instance type, template, disk size)',
  exoscale_quota_exceeded:
    'Exoscale quota exceeded: raise the quota in the Exoscale portal or free resources',
  exoscale_rate_limited: 'Exoscale is rate-limiting this client: retry later',
  exoscale_capacity_unavailable:
    'Exoscale has no capacity for this request: try another zone or instance type, or retry later',
  exoscale_server_error: 'the Exoscale API failed: retry later',
  exoscale_network:
    'could not reach the Exoscale API: check the network connection and EXOSCALE_API_ENDPOINT',
  exoscale_operation_failed: 'an Exoscale operation failed',
  exoscale_operation_timeout: 'an Exoscale operation did not finish in time',
}

export interface ResponseErrorInput {
  status: number
  bodyText: string
  method: string
  path: string
  requestId?: string | undefined
  retryAfterMs?: number | undefined
  attempts?: number | undefined
  /** Values that must not appear in the error (the API secret, the Authorization header). */
  secrets?: Iterable<string | Secret | undefined>
}

/** The typed error for a non-2xx response. */
export function errorFromResponse(input: ResponseErrorInput): ExoscaleError {
  const secrets = [...(input.secrets ?? [])]
  const parsed = parseErrorBody(input.bodyText)
  const apiMessage = parsed === undefined ? undefined : redactSecrets(parsed, secrets)
  const code = codeForStatus(input.status, apiMessage)
  const context = `${input.status} ${input.method} ${input.path}${apiMessage ? `: ${apiMessage}` : ''}`
  return new ExoscaleError(code, `${ADVICE[code]} (${context})`, {
    status: input.status,
    method: input.method,
    path: input.path,
    requestId: input.requestId,
    apiMessage,
    retryAfterMs: input.retryAfterMs,
    attempts: input.attempts,
    cause: {
      status: input.status,
      body: redactSecrets(input.bodyText.slice(0, 2000), secrets),
    },
  })
}

export interface NetworkErrorInput {
  cause: unknown
  method: string
  path: string
  origin: string
  attempts?: number | undefined
  /** Set when our own per-request timer fired. */
  timeoutMs?: number | undefined
}

/** The code of a low-level network error (ECONNRESET, …), looked up along the cause chain. */
export function networkErrorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/** The typed error for a request that got no response. */
export function errorFromNetwork(input: NetworkErrorInput): ExoscaleError {
  const what =
    input.timeoutMs !== undefined
      ? `no response within ${Math.round(input.timeoutMs / 1000)} s`
      : (networkErrorCode(input.cause) ??
        (input.cause instanceof Error ? input.cause.message : 'network error'))
  return new ExoscaleError(
    'exoscale_network',
    `${ADVICE.exoscale_network} (${input.method} ${input.origin}${input.path}: ${what})`,
    { method: input.method, path: input.path, attempts: input.attempts, cause: input.cause },
  )
}

/**
 * The typed error for an operation that ended `failure` or `timeout` (or in an unknown state):
 * capacity and quota failures get their own codes, the rest is exoscale_operation_failed with
 * the reason and message the API gave.
 */
export function errorFromOperation(
  op: Operation,
  secrets: Iterable<string | Secret> = [],
): ExoscaleError {
  const message = op.message ? redactSecrets(oneLine(op.message), secrets) : undefined
  const operation = {
    id: op.id,
    state: op.state,
    reason: op.reason,
    message,
    command: op.reference?.command,
    referenceId: op.reference?.id,
  }
  const text = message ?? ''
  let code: ExoscaleErrorCode = 'exoscale_operation_failed'
  if (op.reason === 'unavailable' || CAPACITY_RE.test(text)) code = 'exoscale_capacity_unavailable'
  else if (QUOTA_RE.test(text)) code = 'exoscale_quota_exceeded'
  const what = [
    `operation ${op.id ?? '(no id)'}`,
    op.reference?.command ? ` (${op.reference.command})` : '',
    ` ended ${op.state ?? 'in an unknown state'}`,
    op.reason ? `, reason ${op.reason}` : '',
    message ? `: ${message}` : '',
  ].join('')
  const head =
    code === 'exoscale_operation_failed'
      ? `an Exoscale ${what}; retry, or check the resource in the Exoscale portal`
      : `${ADVICE[code]} (${what})`
  return new ExoscaleError(code, head, { apiMessage: message, operation })
}
