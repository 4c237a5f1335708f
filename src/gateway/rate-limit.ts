import type { Clock } from '../shared/index.js'

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number }

interface Bucket {
  tokens: number
  at: number
}

const SWEEP_AT = 10_000

/** A token bucket per key: `perMinute` refill, `burst` capacity. 0 per minute = unlimited. */
export class RateLimiter {
  readonly #clock: Clock
  readonly #perMs: number
  readonly #burst: number
  readonly #buckets = new Map<string, Bucket>()

  constructor(clock: Clock, perMinute: number, burst: number) {
    this.#clock = clock
    this.#perMs = perMinute / 60_000
    this.#burst = Math.max(1, burst || perMinute)
  }

  get enabled(): boolean {
    return this.#perMs > 0
  }

  /** Takes one token for `key`, or says how long until one is available. */
  take(key: string): Admission {
    if (!this.enabled) return { ok: true }
    const now = this.#clock.now()
    let bucket = this.#buckets.get(key)
    if (!bucket) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep(now)
      bucket = { tokens: this.#burst, at: now }
      this.#buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { ok: true }
    }
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000)),
    }
  }

  /** Drops buckets that have refilled completely (they equal a fresh one). */
  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#burst) this.#buckets.delete(key)
    }
  }
}

/** At most `max` concurrent holders per key. 0 = unlimited. */
export class ConcurrencyLimiter {
  readonly #max: number
  readonly #counts = new Map<string, number>()

  constructor(max: number) {
    this.#max = max
  }

  /** A release function, or undefined when `key` is at its limit. */
  acquire(key: string): (() => void) | undefined {
    if (this.#max <= 0) return noop
    const count = this.#counts.get(key) ?? 0
    if (count >= this.#max) return undefined
    this.#counts.set(key, count + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.#counts.get(key) ?? 1) - 1
      if (left <= 0) this.#counts.delete(key)
      else this.#counts.set(key, left)
    }
  }
}

function noop(): void {}
