import { describe, expect, it } from 'vitest'
import {
  backoffDelayMs,
  decideRetry,
  DEFAULT_RETRY_OPTIONS,
  isIdempotentMethod,
  isRetryableStatus,
  parseRetryAfter,
} from './retry-policy.js'

const opts = DEFAULT_RETRY_OPTIONS

describe('isRetryableStatus', () => {
  it('retries 429 and 5xx except 501', () => {
    expect([429, 500, 502, 503, 504, 599].map(isRetryableStatus)).toEqual(Array(6).fill(true))
    expect([200, 400, 401, 403, 404, 409, 422, 501].map(isRetryableStatus)).toEqual(
      Array(8).fill(false),
    )
  })
})

describe('isIdempotentMethod', () => {
  it('treats POST as unsafe and GET/PUT/DELETE as safe', () => {
    expect(isIdempotentMethod('POST')).toBe(false)
    expect(['GET', 'put', 'DELETE'].every(isIdempotentMethod)).toBe(true)
  })
})

describe('backoffDelayMs', () => {
  it('doubles from the base and caps, jitter in the upper half', () => {
    const low = () => 0
    const high = () => 0.999999
    expect(backoffDelayMs(1, opts, low)).toBe(500)
    expect(backoffDelayMs(1, opts, high)).toBe(1000)
    expect(backoffDelayMs(2, opts, low)).toBe(1000)
    expect(backoffDelayMs(3, opts, high)).toBe(4000)
    expect(backoffDelayMs(10, opts, high)).toBe(30_000)
    expect(backoffDelayMs(10, opts, low)).toBe(15_000)
  })

  it('uses the random source for jitter', () => {
    expect(backoffDelayMs(2, opts, () => 0.5)).toBe(1500)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0)
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
  })
  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0)
  })
  it('ignores absent and garbage values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
  })
})

describe('decideRetry', () => {
  const r = () => 0
  it('never retries a POST, whatever the failure', () => {
    for (const status of [undefined, 429, 502, 503]) {
      expect(decideRetry({ attempt: 1, method: 'POST', status }, opts, r)).toEqual({
        retry: false,
        why: 'not idempotent',
      })
    }
  })
  it('retries idempotent calls on network errors, 429 and 5xx with backoff', () => {
    expect(decideRetry({ attempt: 1, method: 'GET' }, opts, r)).toEqual({
      retry: true,
      delayMs: 500,
    })
    expect(decideRetry({ attempt: 2, method: 'DELETE', status: 503 }, opts, r)).toEqual({
      retry: true,
      delayMs: 1000,
    })
  })
  it('does not retry final statuses', () => {
    expect(decideRetry({ attempt: 1, method: 'GET', status: 501 }, opts, r).retry).toBe(false)
    expect(decideRetry({ attempt: 1, method: 'GET', status: 404 }, opts, r).retry).toBe(false)
  })
  it('honours Retry-After exactly, up to the limit', () => {
    expect(
      decideRetry({ attempt: 1, method: 'GET', status: 429, retryAfterMs: 7000 }, opts, r),
    ).toEqual({ retry: true, delayMs: 7000 })
    expect(
      decideRetry(
        { attempt: 1, method: 'GET', status: 429, retryAfterMs: opts.maxRetryAfterMs + 1 },
        opts,
        r,
      ).retry,
    ).toBe(false)
  })
  it('stops after maxAttempts', () => {
    expect(decideRetry({ attempt: 4, method: 'GET', status: 503 }, opts, r).retry).toBe(true)
    expect(decideRetry({ attempt: 5, method: 'GET', status: 503 }, opts, r).retry).toBe(false)
  })
  it('lets the caller override idempotency', () => {
    expect(decideRetry({ attempt: 1, method: 'PUT', idempotent: false }, opts, r).retry).toBe(false)
  })
})
