import type { Clock, Logger, Secret } from '../shared/index.js'
import { ExoscaleError } from './errors.js'
import { errorFromNetwork, errorFromResponse } from './error-mapping.js'
import { decideRetry, parseRetryAfter, type RetryOptions } from './retry-policy.js'
import { expiresAt, signRequest } from './sign.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** The fetch the client uses; the global one by default, a spy or a dispatcher-bound one in tests. */
export type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>

export interface ExoscaleHttpOptions {
  apiKey: string
  apiSecret: Secret
  /** Base URL including `/v2` (or any prefix), no trailing slash. Every call goes there. */
  baseUrl: string
  fetch: FetchFn
  clock: Clock
  logger: Logger
  random: () => number
  retry: RetryOptions
  /** Per attempt: headers and body must arrive within this time. */
  requestTimeoutMs: number
  /** How far ahead signatures expire (clamped to 1 h). */
  expiresInSeconds: number
}

export interface ExoscaleRequest {
  method: HttpMethod
  /** Path below the base URL, segments already escaped: `/instance/<id>:start`. */
  path: string
  /** Query arguments (single-valued, all signed); undefined values are left out. */
  query?: Readonly<Record<string, string | undefined>> | undefined
  /** JSON body, serialized once; the sent string is the signed string. Absent: no body. */
  body?: unknown
  /** Sign the request (default). Only `GET /zone` goes unsigned. */
  signed?: boolean
  /** Overrides method-based idempotency for the retry decision. */
  idempotent?: boolean
  signal?: AbortSignal | undefined
}

/** A URL path segment, escaped (ids are UUIDs, but a quota entity or a name may not be). */
export function segment(value: string): string {
  return encodeURIComponent(value)
}

/** `?a=1&b=2` with names sorted and percent-encoding (never `+` for spaces); '' when empty. */
export function queryString(query: Readonly<Record<string, string | undefined>> = {}): string {
  const pairs = Object.entries(query)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
  return pairs.length > 0 ? `?${pairs.join('&')}` : ''
}

/** Query arguments as the server decodes them from the URL (name → values). */
function decodedQuery(url: URL): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [k, v] of url.searchParams) (out[k] ??= []).push(v)
  return out
}

const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-exoscale-request-id']

function requestIdOf(headers: Headers): string | undefined {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers.get(name)
    if (value) return value.slice(0, 200)
  }
  return undefined
}

/** Marks our own per-attempt timeout, to tell it apart from the caller's abort. */
class AttemptTimeout extends Error {}

/**
 * The HTTP layer: builds the URL on the base, signs each attempt afresh (new `expires`), sends
 * JSON once serialized, retries idempotent calls on network errors, 429 and 5xx (not 501) with
 * capped exponential backoff or the server's Retry-After, and maps failures to ExoscaleError.
 */
export class ExoscaleHttp {
  readonly #o: ExoscaleHttpOptions
  readonly origin: string

  constructor(options: ExoscaleHttpOptions) {
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') }
    this.origin = new URL(this.#o.baseUrl).origin
  }

  get baseUrl(): string {
    return this.#o.baseUrl
  }

  /** Sends the request and returns the parsed JSON body (undefined for an empty 2xx). */
  async request<T>(req: ExoscaleRequest): Promise<T | undefined> {
    const o = this.#o
    const url = new URL(o.baseUrl + req.path + queryString(req.query))
    // What the server sees: the escaped path (with /v2 or the endpoint's prefix) and the
    // decoded query. Signing these, not our inputs, keeps the signature true to the wire.
    const wirePath = url.pathname
    const wireQuery = decodedQuery(url)
    const bodyText = req.body === undefined ? undefined : JSON.stringify(req.body)
    const log = o.logger
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (bodyText !== undefined) headers['content-type'] = 'application/json'
      let authorization: string | undefined
      if (req.signed !== false) {
        authorization = signRequest({
          method: req.method,
          path: wirePath,
          query: wireQuery,
          body: bodyText ?? '',
          apiKey: o.apiKey,
          apiSecret: o.apiSecret,
          expires: expiresAt(o.clock.now(), o.expiresInSeconds),
        })
        headers.authorization = authorization
      }
      const started = o.clock.now()
      const outcome = await this.#attempt(url, req, headers, bodyText)
      const ms = o.clock.now() - started
      let error: ExoscaleError
      let status: number | undefined
      let retryAfterMs: number | undefined
      if (outcome.kind === 'response') {
        status = outcome.status
        const requestId = requestIdOf(outcome.headers)
        log.debug(
          { method: req.method, path: wirePath, status, attempt, ms, requestId },
          'exoscale request',
        )
        if (status >= 200 && status < 300) return this.#parse<T>(outcome.text, req, wirePath)
        retryAfterMs = parseRetryAfter(outcome.headers.get('retry-after'), o.clock.now())
        error = errorFromResponse({
          status,
          bodyText: outcome.text,
          method: req.method,
          path: wirePath,
          requestId,
          retryAfterMs,
          attempts: attempt,
          secrets: [o.apiSecret, authorization],
        })
      } else {
        error = errorFromNetwork({
          cause: outcome.cause,
          method: req.method,
          path: wirePath,
          origin: this.origin,
          attempts: attempt,
          timeoutMs: outcome.timedOut ? o.requestTimeoutMs : undefined,
        })
        log.debug(
          { method: req.method, path: wirePath, attempt, ms, code: error.code, err: error.message },
          'exoscale request failed',
        )
      }
      const decision = decideRetry(
        { attempt, method: req.method, idempotent: req.idempotent, status, retryAfterMs },
        o.retry,
        o.random,
      )
      if (!decision.retry) throw error
      log.warn(
        { method: req.method, path: wirePath, status, attempt, delayMs: decision.delayMs },
        `exoscale request failed (${error.code}), retrying`,
      )
      await o.clock.sleep(decision.delayMs, req.signal)
    }
  }

  async #attempt(
    url: URL,
    req: ExoscaleRequest,
    headers: Record<string, string>,
    bodyText: string | undefined,
  ): Promise<
    | { kind: 'response'; status: number; headers: Headers; text: string }
    | { kind: 'network'; cause: unknown; timedOut: boolean }
  > {
    const o = this.#o
    req.signal?.throwIfAborted()
    const timeout = new AbortController()
    const timer = o.clock.setTimer(o.requestTimeoutMs, () =>
      timeout.abort(new AttemptTimeout('request timed out')),
    )
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal
    try {
      const res = await o.fetch(url, {
        method: req.method,
        headers,
        ...(bodyText === undefined ? {} : { body: bodyText }),
        redirect: 'manual',
        signal,
      })
      const text = await res.text()
      return { kind: 'response', status: res.status, headers: res.headers, text }
    } catch (cause) {
      // The caller gave up: surface their reason as is, not as a network failure.
      if (req.signal?.aborted) throw req.signal.reason
      return { kind: 'network', cause, timedOut: timeout.signal.aborted }
    } finally {
      timer.cancel()
    }
  }

  #parse<T>(text: string, req: ExoscaleRequest, wirePath: string): T | undefined {
    if (text.trim() === '') return undefined
    try {
      return JSON.parse(text) as T
    } catch (cause) {
      throw new ExoscaleError(
        'exoscale_server_error',
        `the Exoscale API answered ${req.method} ${wirePath} with a body that is not JSON: retry later`,
        { method: req.method, path: wirePath, cause },
      )
    }
  }
}
