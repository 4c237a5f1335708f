import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import {
  ExollamaError,
  UserError,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type Timer,
} from '../shared/index.js'
import { presentedKey } from './auth.js'
import {
  GatewayError,
  errorBody,
  familyOf,
  sendError,
  sendGatewayError,
  type ErrorFamily,
} from './errors.js'
import {
  ClientGoneError,
  ForwardExchange,
  type ForwardHooks,
  type ForwardSettings,
} from './forward.js'
import {
  hostAllowed,
  hostIsLoopback,
  isLoopbackAddress,
  isLoopbackListenHost,
  originAllowed,
  type HostPolicy,
} from './host-guard.js'
import { ManagementRouter } from './management-routes.js'
import { MemoryMetadataCache } from './memory-cache.js'
import { GatewayMetrics } from './metrics.js'
import { resolveGatewayOptions, type GatewayOptions, type GatewayOptionsInput } from './options.js'
import type {
  Backend,
  BackendState,
  DashboardHandler,
  KeyIdentity,
  KeyVerifier,
  Management,
  MetadataCache,
  MetadataKey,
  Upstream,
  UsageSink,
  WakeReason,
} from './ports.js'
import { ConcurrencyLimiter, RateLimiter } from './rate-limit.js'
import { checkRequestTarget } from './request-target.js'
import { isBlobPath, matchRoute, modelParam, type Route } from './routes.js'

export interface CreateGatewayInput {
  backend: Backend
  management?: Management
  keys?: KeyVerifier
  usage?: UsageSink
  cache?: MetadataCache
  dashboard?: DashboardHandler
  clock?: Clock
  logger?: Logger
  options?: GatewayOptionsInput
  /** Collect Node process metrics (RSS, event-loop lag, GC) on the gateway's registry; default true. */
  processMetrics?: boolean
}

export interface CloseOptions {
  /** How long in-flight streams may run before they are ended with an in-stream error. */
  deadlineMs?: number
}

export interface GatewayStats {
  /** Forwarded requests in flight (held ones included). */
  inFlight: number
  held: number
  /** Bytes queued in the gateway's response buffers across forwarded requests (backpressure). */
  bufferedBytes: number
}

export interface Gateway {
  /** Starts listening (default 127.0.0.1:11434); resolves with the bound address. */
  listen(host?: string, port?: number): Promise<AddressInfo>
  /** Handles one request in-process (the same pipeline `listen` uses). */
  handle(req: IncomingMessage, res: ServerResponse): void
  readonly metrics: GatewayMetrics
  /** Whether client keys are required (decided by the listen address unless configured). */
  readonly keysRequired: boolean
  stats(): GatewayStats
  /** Stops accepting, lets streams finish up to the deadline, ends the rest in-stream, resolves when closed. */
  close(options?: CloseOptions): Promise<void>
}

const ROOT_BODY = 'Ollama is running'
const DEFAULT_DEADLINE_MS = 10_000
const CACHE_CAPTURE_BYTES = 8 * 1024 * 1024
const SLEEPING: ReadonlySet<BackendState> = new Set([
  'absent',
  'stopped',
  'error',
  'stopping',
  'destroying',
])
const NEVER_ABORTED = new AbortController().signal
const EMPTY_ANSWERS: Record<Exclude<MetadataKey, 'version'>, string> = {
  tags: '{"models":[]}',
  ps: '{"models":[]}',
  models: '{"object":"list","data":[]}',
}

/** Per-request state shared by the steps of the pipeline and the final accounting. */
interface Exchange {
  req: IncomingMessage
  res: ServerResponse
  route: Route
  path: string
  query: string
  family: ErrorFamily
  identity: KeyIdentity | undefined
  startedAt: number
  /** Set while waiting for the instance. */
  hold: AbortController | undefined
  forward: ForwardExchange | undefined
  endActivity: (() => void) | undefined
  release: (() => void) | undefined
  counted: boolean
}

/** Waits for `promise` unless `signal` aborts first (the backend may ignore the signal). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error as Error)
      },
    )
  })
}

/**
 * Builds the gateway: Ollama + OpenAI routes, wake-on-request, streaming proxy, local security,
 * limits, metrics and management routes, over the given ports.
 */
export function createGateway(input: CreateGatewayInput): Gateway {
  const options: GatewayOptions = resolveGatewayOptions(input.options)
  const backend = input.backend
  const clock = input.clock ?? systemClock
  const logger = input.logger ?? silentLogger
  const cache = input.cache ?? new MemoryMetadataCache()
  const rate = new RateLimiter(clock, options.limits.requestsPerMinute, options.limits.burst)
  const concurrency = new ConcurrencyLimiter(options.limits.concurrencyPerKey)
  const limiting = options.limits.requestsPerMinute > 0 || options.limits.concurrencyPerKey > 0
  const managementRouter = new ManagementRouter({
    management: input.management,
    clock,
    logger,
    heartbeatMs: options.eventsHeartbeatMs,
  })

  const policy: HostPolicy = {
    listenHost: undefined,
    port: undefined,
    allowedHosts: options.allowedHosts,
    allowedOrigins: options.allowedOrigins,
  }
  let keysRequired = options.requireKeys ?? false
  let server: Server | undefined
  let closing = false
  let closed: Promise<void> | undefined
  let held = 0
  const active = new Set<Exchange>()
  const holding = new Set<Exchange>()
  let drained: (() => void) | undefined
  const metrics = new GatewayMetrics({
    defaultMetrics: input.processMetrics ?? true,
    gauges: { inFlight: () => active.size, held: () => held },
  })

  // ---- accounting --------------------------------------------------------------------------

  function onResponseClose(this: ServerResponse): void {
    const x = (this as ServerResponse & { exchange?: Exchange }).exchange
    if (!x) return
    const gone = !this.writableFinished
    if (gone) {
      x.hold?.abort(new ClientGoneError())
      x.forward?.clientGone()
    }
    finish(x, gone)
  }

  function finish(x: Exchange, gone: boolean): void {
    if (x.counted) return
    x.counted = true
    const status = gone ? 499 : x.res.statusCode
    metrics.countRequest(x.route.id, status)
    x.release?.()
    x.endActivity?.()
    if (active.delete(x) && active.size === 0) drained?.()
    const tap = x.forward?.tap
    if (tap && x.forward && x.forward.status > 0) {
      const figures = tap.result()
      const model = figures.model ?? 'unknown'
      if (figures.promptTokens !== null) metrics.countTokens('prompt', model, figures.promptTokens)
      if (figures.evalTokens !== null) metrics.countTokens('eval', model, figures.evalTokens)
      input.usage?.record({
        keyId: x.identity?.id ?? null,
        route: x.route.id,
        model: figures.model,
        promptTokens: figures.promptTokens,
        evalTokens: figures.evalTokens,
        status,
        durationMs: clock.now() - x.startedAt,
      })
    }
  }

  // ---- the pipeline ------------------------------------------------------------------------

  // Clients repeat the same Host on every request: remember verdicts (bounded, reset on listen).
  const hostVerdicts = new Map<string, boolean>()
  function hostOk(host: string | undefined): boolean {
    if (host === undefined) return true
    let verdict = hostVerdicts.get(host)
    if (verdict === undefined) {
      verdict = hostAllowed(host, policy)
      if (hostVerdicts.size >= 256) hostVerdicts.clear()
      hostVerdicts.set(host, verdict)
    }
    return verdict
  }

  /** Answers a request refused before it matched a route (counted under route "unmatched"). */
  function refuse(
    res: ServerResponse,
    family: ErrorFamily,
    status: number,
    code: string,
    message: string,
    headers?: Record<string, string | number>,
  ): void {
    metrics.countRequest('unmatched', status)
    sendError(res, family, status, code, message, headers)
  }

  /** The request listener: a bug in one request answers 500 instead of taking the process down. */
  function handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      pipeline(req, res)
    } catch (error) {
      // The path only: a query string could carry something secret.
      logger.error({ err: error, path: (req.url ?? '').split('?')[0] }, 'request handling failed')
      if (!res.headersSent) {
        sendError(
          res,
          familyOf(req.url ?? '/'),
          500,
          'internal_error',
          'the gateway failed on this request; see its log',
        )
      } else res.destroy()
    }
  }

  function pipeline(req: IncomingMessage, res: ServerResponse): void {
    const target = checkRequestTarget(req.url)
    const path = target.ok ? target.path : (req.url ?? '/')
    const family = familyOf(path)
    if (closing) {
      return refuse(
        res,
        family,
        503,
        'gateway_shutting_down',
        'the gateway is shutting down; try again shortly',
        {
          connection: 'close',
          'retry-after': 5,
        },
      )
    }
    if (!target.ok) return refuse(res, family, 400, target.code, target.message)
    const host = req.headers.host
    if (!hostOk(host)) {
      return refuse(
        res,
        family,
        403,
        'host_not_allowed',
        'the Host header does not name this gateway (DNS rebinding guard); add the name to the allowed hosts',
      )
    }
    const origin = req.headers.origin
    if (origin !== undefined) {
      if (!originAllowed(origin, hostIsLoopback(host), policy)) {
        return refuse(
          res,
          family,
          403,
          'origin_not_allowed',
          'this browser origin may not call the gateway; add it to the allowed origins',
        )
      }
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('vary', 'Origin')
      if (req.method === 'OPTIONS') return preflight(req, res)
    }
    const route = matchRoute(target.path)
    if (!route) {
      return refuse(res, family, 404, 'not_found', `${target.path} is not a route of this gateway`)
    }
    const x: Exchange = {
      req,
      res,
      route,
      path: target.path,
      query: target.query,
      family,
      identity: undefined,
      startedAt: clock.now(),
      hold: undefined,
      forward: undefined,
      endActivity: undefined,
      release: undefined,
      counted: false,
    }
    ;(res as ServerResponse & { exchange?: Exchange }).exchange = x
    res.on('close', onResponseClose)

    if (route.kind === 'root') return authenticated(x)
    const key = presentedKey(req.headers)
    if (!key) {
      if (keysRequired) return unauthorized(x)
      return authenticated(x)
    }
    const verified = input.keys?.verify(key)
    if (verified instanceof Promise) {
      verified.then(
        (identity) => afterVerify(x, identity),
        (error: unknown) => {
          logger.error({ err: error }, 'key verification failed')
          sendError(
            res,
            family,
            500,
            'internal_error',
            'the key could not be checked; see the gateway log',
          )
        },
      )
    } else afterVerify(x, verified)
  }

  function afterVerify(x: Exchange, identity: KeyIdentity | undefined): void {
    if (x.counted) return // the client left while its key was being checked
    // On loopback an unknown key is ignored (OpenAI SDKs must send *some* key, often "ollama").
    if (!identity && keysRequired) return unauthorized(x)
    x.identity = identity
    authenticated(x)
  }

  function unauthorized(x: Exchange): void {
    sendError(
      x.res,
      x.family,
      401,
      'invalid_api_key',
      'a valid API key is required (Authorization: Bearer KEY, x-api-key or X-Ollama-Key)',
      {
        'www-authenticate': 'Bearer',
      },
    )
  }

  function methodAllowed(x: Exchange): boolean {
    const method = x.req.method ?? 'GET'
    if (x.route.methods.includes(method)) return true
    sendError(
      x.res,
      x.family,
      405,
      'method_not_allowed',
      `${method} is not allowed on ${x.route.id}`,
      {
        allow: x.route.methods.join(', '),
      },
    )
    return false
  }

  function authenticated(x: Exchange): void {
    const { route, res, req } = x
    switch (route.kind) {
      case 'root':
        if (!methodAllowed(x)) return
        if (
          input.dashboard &&
          options.redirectBrowsersToUi &&
          /\btext\/html\b/.test(req.headers.accept ?? '')
        ) {
          res.writeHead(302, { location: '/ui/', 'content-length': 0 })
          res.end()
          return
        }
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': ROOT_BODY.length,
        })
        res.end(req.method === 'HEAD' ? undefined : ROOT_BODY)
        return
      case 'metrics':
        if (!methodAllowed(x)) return
        void metrics.render().then(
          ({ contentType, body }) => {
            if (res.destroyed) return
            res.writeHead(200, {
              'content-type': contentType,
              'content-length': Buffer.byteLength(body),
            })
            res.end(req.method === 'HEAD' ? undefined : body)
          },
          (error: unknown) => {
            logger.error({ err: error }, 'rendering metrics failed')
            sendError(res, x.family, 500, 'internal_error', 'the metrics could not be rendered')
          },
        )
        return
      case 'dashboard':
        if (!input.dashboard)
          return sendError(
            res,
            x.family,
            404,
            'not_found',
            'no dashboard is mounted on this gateway',
          )
        Promise.resolve()
          .then(() => input.dashboard?.(req, res))
          .catch((error: unknown) => {
            logger.error({ err: error }, 'dashboard handler failed')
            sendError(
              res,
              x.family,
              500,
              'internal_error',
              'the dashboard failed; see the gateway log',
            )
          })
        return
      case 'management':
        if (!methodAllowed(x)) return
        void managementRouter.handle({
          req,
          res,
          action: route.management ?? 'status',
          query: x.query,
          identity: x.identity,
          adminRequired: keysRequired,
        })
        return
      case 'admin':
        if (!options.allowModelAdmin && !x.identity?.admin) {
          return sendError(
            res,
            x.family,
            403,
            'model_admin_forbidden',
            `${route.id} (model administration) is disabled on this gateway; use an admin key or enable model admin in the settings`,
          )
        }
        if (route.id === '/api/blobs/:digest' && !isBlobPath(x.path)) {
          return sendError(
            res,
            x.family,
            404,
            'not_found',
            `${x.path} is not a route of this gateway`,
          )
        }
        if (!methodAllowed(x)) return
        return admitForward(x, true)
      case 'cached':
        if (!methodAllowed(x)) return
        if (backend.state() !== 'ready') return serveCached(x, route.cacheKey as MetadataKey, false)
        return startForward(x, false)
      case 'forward':
        if (!methodAllowed(x)) return
        if (
          route.id === '/v1/models/:model' &&
          backend.state() !== 'ready' &&
          serveModelFromCache(x)
        )
          return
        return admitForward(x, true)
    }
  }

  function preflight(req: IncomingMessage, res: ServerResponse): void {
    const requested = req.headers['access-control-request-headers']
    const headers: Record<string, string | number> = {
      'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
      'access-control-max-age': 600,
      'content-length': 0,
    }
    if (requested && /^[A-Za-z0-9_\-, ]{1,1000}$/.test(requested))
      headers['access-control-allow-headers'] = requested
    res.writeHead(204, headers)
    res.end()
  }

  /** Body checks, limits; then forwarding (which holds while the instance wakes). */
  function admitForward(x: Exchange, activity: boolean): void {
    const { req, res, family } = x
    const encoding = req.headers['content-encoding']
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      return sendError(
        res,
        family,
        415,
        'unsupported_content_encoding',
        'compressed request bodies are not accepted; send the body uncompressed',
      )
    }
    const length = req.headers['content-length']
    if (length !== undefined && Number(length) > options.maxBodyBytes) {
      return sendError(
        res,
        family,
        413,
        'request_too_large',
        `the request body is larger than ${options.maxBodyBytes} bytes`,
        {
          connection: 'close',
        },
      )
    }
    if (limiting && (options.limits.limitLoopback || !isLoopbackAddress(clientIp(x)))) {
      const limitKey = x.identity ? `key:${x.identity.id}` : `ip:${clientIp(x)}`
      const admission = rate.take(limitKey)
      if (!admission.ok) {
        return sendError(
          res,
          family,
          429,
          'rate_limited',
          'too many requests for this key; slow down',
          {
            'retry-after': admission.retryAfterSeconds,
          },
        )
      }
      const release = concurrency.acquire(limitKey)
      if (!release) {
        return sendError(
          res,
          family,
          429,
          'too_many_concurrent_requests',
          'too many requests in flight for this key; wait for one to finish',
          {
            'retry-after': 1,
          },
        )
      }
      x.release = release
    }
    startForward(x, activity)
  }

  function startForward(x: Exchange, activity: boolean): void {
    active.add(x)
    if (activity) x.endActivity = backend.activity.begin()
    const state = backend.state()
    if (state === 'ready') {
      // Fast path (no promise) for backends that can hand out a ready upstream synchronously.
      const ready = backend.readyUpstream?.()
      if (ready) return proxy(x, ready)
      backend.ensureReady({ signal: NEVER_ABORTED, reason: wakeReason(x) }).then(
        (upstream) => proxy(x, upstream),
        (error: unknown) => wakeFailed(x, error),
      )
      return
    }
    holdUntilReady(x, state)
  }

  function clientIp(x: Exchange): string {
    return x.req.socket.remoteAddress ?? ''
  }

  function wakeReason(x: Exchange): WakeReason {
    return x.identity
      ? { route: x.route.id, keyId: x.identity.id, clientIp: clientIp(x) }
      : { route: x.route.id, clientIp: clientIp(x) }
  }

  function holdUntilReady(x: Exchange, state: BackendState): void {
    if (held >= options.maxHeldRequests) {
      return sendGatewayError(
        x.res,
        x.family,
        new GatewayError(
          503,
          'too_many_held_requests',
          `${held} requests are already waiting for the instance; try again shortly`,
          {
            retryAfterSeconds: options.retryAfterSeconds,
          },
        ),
      )
    }
    if (held === 0 && SLEEPING.has(state)) metrics.wakes.inc()
    held++
    holding.add(x)
    const hold = new AbortController()
    x.hold = hold
    const timer: Timer = clock.setTimer(options.wakeTimeoutMs, () =>
      hold.abort(
        new GatewayError(
          503,
          'instance_waking_timeout',
          `the instance was not ready within ${Math.round(options.wakeTimeoutMs / 1000)} s; try again later`,
          {
            retryAfterSeconds: options.retryAfterSeconds,
          },
        ),
      ),
    )
    const release = () => {
      timer.cancel()
      held--
      holding.delete(x)
      x.hold = undefined
    }
    unlessAborted(
      backend.ensureReady({ signal: hold.signal, reason: wakeReason(x) }),
      hold.signal,
    ).then(
      (upstream) => {
        release()
        proxy(x, upstream)
      },
      (error: unknown) => {
        release()
        wakeFailed(x, error)
      },
    )
  }

  function wakeFailed(x: Exchange, error: unknown): void {
    if (error instanceof ClientGoneError || x.res.destroyed) return
    if (error instanceof GatewayError) return sendGatewayError(x.res, x.family, error)
    const retry = { 'retry-after': options.retryAfterSeconds }
    if (error instanceof ExollamaError) {
      return sendError(x.res, x.family, 503, error.code, error.message, retry)
    }
    logger.error({ err: error, route: x.route.id }, 'waking the instance failed')
    sendError(
      x.res,
      x.family,
      503,
      'instance_unavailable',
      'the instance could not be made ready; see the gateway log',
      retry,
    )
  }

  const forwardSettings: ForwardSettings = {
    maxBodyBytes: options.maxBodyBytes,
    headersTimeoutMs: options.upstreamHeadersTimeoutMs,
    idleTimeoutMs: options.upstreamIdleTimeoutMs,
  }

  const forwardHooks: ForwardHooks<Exchange> = {
    upstreamHeaders(x, seconds) {
      metrics.observeUpstreamLatency(x.route.id, seconds)
    },
    failBeforeHeaders(x) {
      const key = x.route.cacheKey
      if (x.route.kind !== 'cached' || !key) return false
      serveCached(x, key, true)
      return true
    },
    done(x, exchange, error) {
      const key = x.route.cacheKey
      if (key && x.route.kind === 'cached' && !error && exchange.captured) {
        cache.set(key, {
          contentType: exchange.captured.contentType,
          body: exchange.captured.body.toString('utf8'),
          storedAt: clock.now(),
        })
      }
      if (error && !(error instanceof ClientGoneError)) {
        logger.warn(
          { route: x.route.id, code: (error as { code?: string }).code, err: error.message },
          'upstream exchange failed',
        )
      }
    },
  }

  function proxy(x: Exchange, upstream: Upstream): void {
    if (x.res.destroyed || x.counted) return
    const cached = x.route.kind === 'cached'
    const forward = new ForwardExchange<Exchange>({
      context: x,
      req: x.req,
      res: x.res,
      upstream,
      target: x.query ? `${x.path}?${x.query}` : x.path,
      method: cached && x.req.method === 'HEAD' ? 'GET' : (x.req.method ?? 'GET'),
      family: x.family,
      settings: forwardSettings,
      hooks: forwardHooks,
      tapUsage: !cached,
      captureBytes: cached ? CACHE_CAPTURE_BYTES : 0,
    })
    x.forward = forward
    try {
      forward.start()
    } catch (error) {
      // A malformed Upstream (origin not a URL, a header undici refuses): this request fails alone.
      logger.error({ err: error, route: x.route.id }, 'could not forward to the upstream')
      x.forward = undefined
      sendError(
        x.res,
        x.family,
        502,
        'upstream_unavailable',
        'the instance could not be reached; see the gateway log',
      )
    }
  }

  function serveCached(x: Exchange, key: MetadataKey, afterFailure: boolean): void {
    const { res, req } = x
    if (res.headersSent || res.destroyed) return
    const cached = cache.get(key)
    const body =
      cached?.body ??
      (key === 'version'
        ? JSON.stringify({ version: options.versionFallback })
        : EMPTY_ANSWERS[key])
    res.writeHead(200, {
      'content-type': cached?.contentType ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-exollama-cache': cached ? (afterFailure ? 'stale' : 'hit') : 'empty',
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  /** `/v1/models/:model` while asleep: the entry from the cached `/v1/models` list, when listed. */
  function serveModelFromCache(x: Exchange): boolean {
    const cached = cache.get('models')
    const id = modelParam(x.path)
    if (!cached || id === undefined) return false
    let name: string
    try {
      name = decodeURIComponent(id)
    } catch {
      return false
    }
    let entry: unknown
    try {
      const list = JSON.parse(cached.body) as { data?: Array<{ id?: unknown }> }
      entry = list.data?.find((m) => m.id === name)
    } catch {
      return false
    }
    if (!entry) return false
    const body = JSON.stringify(entry)
    x.res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-exollama-cache': 'hit',
    })
    x.res.end(body)
    return true
  }

  // ---- server ------------------------------------------------------------------------------

  function onClientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400
    const code =
      status === 431 ? 'headers_too_large' : status === 408 ? 'request_timeout' : 'bad_request'
    const message =
      status === 431
        ? `the request headers are larger than ${options.maxHeaderBytes} bytes`
        : status === 408
          ? 'the request was not received in time'
          : 'the request could not be parsed as HTTP/1.1'
    const body = errorBody('ollama', status, code, message)
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  }

  async function listen(host = '127.0.0.1', port = 11434): Promise<AddressInfo> {
    if (server) throw new UserError('gateway_already_listening', 'the gateway is already listening')
    keysRequired = options.requireKeys ?? !isLoopbackListenHost(host)
    if (keysRequired && !input.keys) {
      throw new UserError(
        'keys_required',
        `listening on ${host} (not loopback) requires client API keys; create one with "exollama keys create" or listen on 127.0.0.1`,
      )
    }
    const s = createServer(
      {
        maxHeaderSize: options.maxHeaderBytes,
        keepAliveTimeout: 65_000,
        headersTimeout: 60_000,
        // Held requests may leave their body unread for the whole wake.
        requestTimeout: Math.max(300_000, options.wakeTimeoutMs + 60_000),
        noDelay: true,
      },
      handle,
    )
    s.on('clientError', onClientError)
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, host, () => {
        s.off('error', reject)
        resolve()
      })
    })
    server = s
    const address = s.address() as AddressInfo
    policy.listenHost = host
    policy.port = address.port
    hostVerdicts.clear()
    logger.info({ host, port: address.port, keysRequired }, 'gateway listening')
    return address
  }

  function close(closeOptions: CloseOptions = {}): Promise<void> {
    if (closed) return closed
    closing = true
    const deadlineMs = closeOptions.deadlineMs ?? DEFAULT_DEADLINE_MS
    closed = (async () => {
      const serverClosed = server
        ? new Promise<void>((resolve) => (server as Server).close(() => resolve()))
        : Promise.resolve()
      const shutdownError = new GatewayError(
        503,
        'gateway_shutting_down',
        'the gateway is shutting down; try again shortly',
        {
          retryAfterSeconds: 5,
        },
      )
      for (const x of holding) x.hold?.abort(shutdownError)
      for (const res of managementRouter.streams) res.end()
      if (active.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = clock.setTimer(deadlineMs, () => {
            for (const x of active) {
              if (x.forward) x.forward.shutdown(shutdownError)
              else sendGatewayError(x.res, x.family, shutdownError)
            }
            resolve()
          })
          drained = () => {
            timer.cancel()
            resolve()
          }
        })
      }
      drained = undefined
      server?.closeAllConnections()
      await serverClosed
      logger.info('gateway closed')
    })()
    return closed
  }

  return {
    listen,
    handle,
    metrics,
    get keysRequired() {
      return keysRequired
    },
    stats() {
      let bufferedBytes = 0
      for (const x of active) bufferedBytes += x.forward?.bufferedBytes ?? 0
      return { inFlight: active.size, held, bufferedBytes }
    },
    close,
  }
}
