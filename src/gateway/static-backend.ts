import { Agent, type Dispatcher } from 'undici'
import { UserError } from '../shared/index.js'
import type { ActivitySink, Backend, BackendState, Upstream } from './ports.js'

export interface StaticBackendOptions {
  /** The Ollama server, `http(s)://host:port` (no path). Credentials in the URL become Basic auth. */
  url: string
  /** Extra headers for every forwarded request (e.g. `{ 'x-ollama-key': … }`). Never logged. */
  headers?: Record<string, string>
  /** A dispatcher of your own; by default an Agent with no header/body timeout and a 30 s connect timeout. */
  dispatcher?: Dispatcher
  connectTimeoutMs?: number
}

/** Counts activity; useful to observe a static backend's load. */
class ActivityCounter implements ActivitySink {
  inFlight = 0

  begin(): () => void {
    this.inFlight++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.inFlight--
    }
  }
}

/** Parses and checks a backend URL; the origin only ever comes from here. */
export function parseBackendUrl(url: string): { origin: string; headers: Record<string, string> } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UserError(
      'invalid_backend_url',
      `--backend must be a URL like http://127.0.0.1:11434 (got "${url}")`,
    )
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UserError(
      'invalid_backend_url',
      `--backend must use http or https (got "${parsed.protocol}")`,
    )
  }
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
    throw new UserError(
      'invalid_backend_url',
      'the --backend URL must name a server only (scheme, host, port), without a path or query',
    )
  }
  const headers: Record<string, string> = {}
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username)
    const pass = decodeURIComponent(parsed.password)
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
  }
  return { origin: parsed.origin, headers }
}

/**
 * `serve --backend URL`: an existing Ollama server that is always ready. Provisions nothing,
 * never wakes anything; forwards to the given origin.
 */
export class StaticBackend implements Backend {
  readonly activity = new ActivityCounter()
  readonly #upstream: Upstream
  readonly #ownDispatcher: Agent | undefined

  constructor(options: StaticBackendOptions) {
    const { origin, headers } = parseBackendUrl(options.url)
    this.#ownDispatcher = options.dispatcher
      ? undefined
      : new Agent({
          // LLM answers legitimately take longer than undici's 300 s defaults: no header/body
          // timeout here (the gateway sets per-request ones); a generous connect timeout.
          headersTimeout: 0,
          bodyTimeout: 0,
          connect: { timeout: options.connectTimeoutMs ?? 30_000 },
          keepAliveTimeout: 30_000,
        })
    this.#upstream = {
      origin,
      dispatcher: options.dispatcher ?? (this.#ownDispatcher as Agent),
      headers: Object.freeze({ ...headers, ...options.headers }),
    }
  }

  get origin(): string {
    return this.#upstream.origin
  }

  state(): BackendState {
    return 'ready'
  }

  ensureReady(): Promise<Upstream> {
    return Promise.resolve(this.#upstream)
  }

  readyUpstream(): Upstream {
    return this.#upstream
  }

  /** Closes the dispatcher it created (not one that was passed in). */
  async close(): Promise<void> {
    await this.#ownDispatcher?.close()
  }
}
