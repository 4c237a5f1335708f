/**
 * A FIFO async mutex: `run(fn)` waits for the holders before it, then runs `fn`. Serialises
 * this process's cloud mutations (wake, idle action, reconcile, stop/destroy); the store lease
 * does the same across processes.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve()
  #held = false

  /** Whether someone holds the mutex right now. */
  get held(): boolean {
    return this.#held
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let release!: () => void
    const previous = this.#tail
    this.#tail = new Promise<void>((resolve) => (release = resolve))
    try {
      await waitOrAbort(previous, signal)
    } catch (error) {
      // Leave the queue in order: our slot opens when the previous holder is done.
      void previous.then(release)
      throw error
    }
    this.#held = true
    try {
      return await fn()
    } finally {
      this.#held = false
      release()
    }
  }
}

function waitOrAbort(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    })
  })
}
