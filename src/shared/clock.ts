/**
 * Time as a dependency. Code that waits, polls or schedules takes a Clock so tests can drive it
 * (ManualClock) instead of faking global timers.
 */
export interface Timer {
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Resolves after `ms`; rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /** Calls `fn` once after `ms`. Real timers are unref'd: a pending timer never keeps Node alive. */
  setTimer(ms: number, fn: () => void): Timer
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal))
      const onAbort = () => {
        clearTimeout(handle)
        reject(abortReason(signal as AbortSignal))
      }
      const handle = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        Math.max(0, ms),
      )
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  },
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms))
    handle.unref()
    return { cancel: () => clearTimeout(handle) }
  },
}

interface Pending {
  at: number
  seq: number
  fire: () => void
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in time order and lets
 * the promise callbacks they trigger run before moving on.
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #pending: Pending[] = []

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  /** Number of timers and sleeps waiting. */
  get pendingCount(): number {
    return this.#pending.length
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal))
      const entry = this.#add(ms, () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      })
      const onAbort = () => {
        this.#remove(entry)
        reject(abortReason(signal as AbortSignal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry = this.#add(ms, fn)
    return { cancel: () => this.#remove(entry) }
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      await flushMicrotasks()
      const next = this.#pending[0]
      if (!next || next.at > target) break
      this.#pending.shift()
      this.#now = Math.max(this.#now, next.at)
      next.fire()
    }
    this.#now = target
    await flushMicrotasks()
  }

  #add(ms: number, fire: () => void): Pending {
    const entry = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fire }
    this.#pending.push(entry)
    this.#pending.sort((a, b) => a.at - b.at || a.seq - b.seq)
    return entry
  }

  #remove(entry: Pending): void {
    const i = this.#pending.indexOf(entry)
    if (i >= 0) this.#pending.splice(i, 1)
  }
}

/** Lets queued promise callbacks (and the ones they queue) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r))
}
