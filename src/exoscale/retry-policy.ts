/**
 * When and how long to retry a request. Pure functions; the HTTP layer applies them.
 *
 * Only idempotent calls are retried (GET, PUT actions, DELETE, operation polls): a POST that
 * creates something is never retried, because the first attempt may have succeeded (the
 * provisioner finds such instances by their intent label instead).
 */
export interface RetryOptions {
  /** Attempts in total, the first included (go-retryablehttp: 5). */
  maxAttempts: number
  /** Backoff before the first retry; doubles each retry. */
  baseDelayMs: number
  /** Cap of the exponential backoff. */
  maxDelayMs: number
  /** The longest `Retry-After` honoured; asking for longer ends the retries. */
  maxRetryAfterMs: number
}

export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = {
  maxAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
}

/** 429 and every 5xx except 501 (Not Implemented will not change on retry). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501)
}

/** GET, HEAD, PUT and DELETE are safe to repeat; POST is not. */
export function isIdempotentMethod(method: string): boolean {
  return ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(method.toUpperCase())
}

/**
 * Capped exponential backoff with "equal jitter" before retry number `retry` (1 = first retry):
 * half the capped delay plus a random share of the other half. `random` returns [0, 1).
 */
export function backoffDelayMs(retry: number, options: RetryOptions, random: () => number): number {
  const exp = options.baseDelayMs * 2 ** Math.max(0, retry - 1)
  const capped = Math.min(options.maxDelayMs, exp)
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.round(capped / 2 + (capped / 2) * r)
}

/**
 * A `Retry-After` header in milliseconds: delta-seconds ("120") or an HTTP date (relative to
 * `nowMs`, never negative). Undefined when absent or unparsable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (text === '') return undefined
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000)
  // HTTP dates (IMF-fixdate, RFC 850, asctime) all start with a day name.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}

export interface RetryDecisionInput {
  /** Attempts made so far (1 after the first). */
  attempt: number
  method: string
  /** Overrides the method-based idempotency (a POST that is safe, a PUT that is not). */
  idempotent?: boolean | undefined
  /** The response status, or undefined for a network error. */
  status?: number | undefined
  /** The parsed Retry-After of the response, if any. */
  retryAfterMs?: number | undefined
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; why: string }

/** Whether to retry a failed attempt, and after how long. */
export function decideRetry(
  input: RetryDecisionInput,
  options: RetryOptions,
  random: () => number,
): RetryDecision {
  const idempotent = input.idempotent ?? isIdempotentMethod(input.method)
  if (!idempotent) return { retry: false, why: 'not idempotent' }
  if (input.status !== undefined && !isRetryableStatus(input.status)) {
    return { retry: false, why: `status ${input.status} is final` }
  }
  if (input.attempt >= options.maxAttempts) return { retry: false, why: 'attempts exhausted' }
  if (input.retryAfterMs !== undefined) {
    if (input.retryAfterMs > options.maxRetryAfterMs) {
      return { retry: false, why: `Retry-After ${input.retryAfterMs} ms is too long` }
    }
    return { retry: true, delayMs: input.retryAfterMs }
  }
  return { retry: true, delayMs: backoffDelayMs(input.attempt, options, random) }
}
