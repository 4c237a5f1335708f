import type { ManualClock } from '../shared/index.js'
import type { FetchFn } from './http.js'

/** One request the fake fetch received. */
export interface RecordedCall {
  method: string
  url: URL
  headers: Record<string, string>
  /** The exact body string, or undefined when none was sent. */
  body: string | undefined
}

/** What a scripted step answers: a Response, or an Error to throw (a network failure). */
export type Step = Response | Error | ((call: RecordedCall) => Response | Error)

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

/** A fetch that answers with `steps` in order (the last one repeats) and records every call. */
export function scriptedFetch(...steps: Step[]): { fetch: FetchFn; calls: RecordedCall[] } {
  const calls: RecordedCall[] = []
  let i = 0
  const fetch: FetchFn = async (input, init) => {
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v))
    const call: RecordedCall = {
      method: init?.method ?? 'GET',
      url: new URL(String(input)),
      headers,
      body: typeof init?.body === 'string' ? init.body : undefined,
    }
    calls.push(call)
    init?.signal?.throwIfAborted()
    const step = steps[Math.min(i++, steps.length - 1)]
    if (step === undefined) throw new Error('scriptedFetch: no steps')
    const out = typeof step === 'function' ? step(call) : step
    if (out instanceof Error) throw out
    return out.clone()
  }
  return { fetch, calls }
}

/** Advances `clock` in `stepMs` steps until `promise` settles (at most `maxSteps`). */
export async function settle<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs = 1000,
  maxSteps = 10_000,
): Promise<T> {
  let done = false
  const tracked = promise.finally(() => {
    done = true
  })
  tracked.catch(() => {})
  for (let n = 0; n < maxSteps && !done; n++) await clock.advance(stepMs)
  return tracked
}

/** A network failure like undici's: TypeError('fetch failed') with a coded cause. */
export function networkError(code = 'ECONNRESET'): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) })
}
