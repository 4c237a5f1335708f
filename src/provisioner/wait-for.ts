import type { Clock, Timer } from '../shared/index.js'
import { ProvisionerError } from './errors.js'
import { timerAt } from './long-timer.js'

/**
 * Waits for `promise`, leaving early when the caller's signal aborts (rejecting with its
 * reason) or the caller's own deadline passes (rejecting with `onDeadline()`).
 */
export function waitFor<T>(
  promise: Promise<T>,
  options: {
    signal?: AbortSignal | undefined
    clock: Clock
    deadline?: number | undefined
    onDeadline: () => Error
  },
): Promise<T> {
  const { signal, clock, deadline } = options
  if (!signal && deadline === undefined) return promise
  return new Promise<T>((resolve, reject) => {
    let timer: Timer | undefined
    const cleanup = () => {
      timer?.cancel()
      signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = () => {
      cleanup()
      reject(
        (signal?.reason as Error | undefined) ??
          new ProvisionerError('wake_aborted', 'the caller stopped waiting', { kind: 'cloud' }),
      )
    }
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    if (deadline !== undefined) {
      timer = timerAt(clock, deadline, () => {
        cleanup()
        reject(options.onDeadline())
      })
    }
    promise.then(
      (value) => {
        cleanup()
        resolve(value)
      },
      (error: unknown) => {
        cleanup()
        reject(error as Error)
      },
    )
  })
}
