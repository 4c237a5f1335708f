import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { errorMessage } from '../shared/index.js'
import { GatewayError, sendError, streamErrorChunk, type ErrorFamily } from './errors.js'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'
import type { Upstream } from './ports.js'
import { UsageTap } from './usage-tap.js'

/** Why the gateway itself ended an upstream exchange. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError'
  constructor() {
    super('the client closed the connection')
  }
}

/** Per-gateway constants for every forwarded request. */
export interface ForwardSettings {
  maxBodyBytes: number
  headersTimeoutMs: number
  idleTimeoutMs: number
}

/** Per-gateway callbacks, shared by every exchange (no closures per request on the hot path). */
export interface ForwardHooks<C> {
  /** The upstream's response headers arrived after `seconds`. */
  upstreamHeaders(context: C, seconds: number): void
  /** Instead of a 502 before headers; returns true when it answered itself (cached routes). */
  failBeforeHeaders(context: C, error: Error): boolean
  /** The exchange is over (`error` set when it failed). */
  done(context: C, exchange: ForwardExchange<C>, error: Error | undefined): void
}

export interface ForwardOptions<C> {
  /** Handed back to the hooks. */
  context: C
  req: IncomingMessage
  res: ServerResponse
  upstream: Upstream
  /** The checked (allowlisted) path plus the original query string. */
  target: string
  /** The method sent upstream (HEAD on a cached route is forwarded as GET). */
  method: string
  family: ErrorFamily
  settings: ForwardSettings
  hooks: ForwardHooks<C>
  /** Read usage from the answer (inference routes). */
  tapUsage: boolean
  /** Keep a copy of a 200 answer up to this many bytes (cached routes); 0 = none. */
  captureBytes: number
}

type StreamFormat = 'ndjson' | 'sse' | undefined

const NEWLINE = 0x0a
// A 503 from the instance (Ollama's queue full, nginx booting) without Retry-After gets this one.
const UPSTREAM_RETRY_AFTER = '5'

const NDJSON_TYPE = /^application\/x-ndjson/i
const SSE_TYPE = /^text\/event-stream/i

function streamFormat(contentType: string | string[] | undefined): StreamFormat {
  const ct = Array.isArray(contentType) ? contentType[0] : contentType
  if (!ct) return undefined
  if (NDJSON_TYPE.test(ct)) return 'ndjson'
  if (SSE_TYPE.test(ct)) return 'sse'
  return undefined
}

/** Reads a chunked request body while counting; fails (aborting the upstream request) past the limit. */
async function* limitedBody(
  req: IncomingMessage,
  max: number,
  onTooLarge: () => void,
): AsyncGenerator<Buffer> {
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > max) {
      onTooLarge()
      throw new GatewayError(
        413,
        'request_too_large',
        `the request body is larger than ${max} bytes`,
      )
    }
    yield chunk
  }
}

/**
 * One request forwarded to the upstream with undici's dispatch API: no buffering either way,
 * the upstream paused while the client cannot take more (backpressure), the upstream aborted
 * when the client goes away, errors before headers answered as JSON in the route's shape and
 * errors after headers written into the stream in its own format.
 */
export class ForwardExchange<C = unknown> implements Dispatcher.DispatchHandler {
  readonly #o: ForwardOptions<C>
  #controller: Dispatcher.DispatchController | undefined
  #pendingAbort: Error | undefined
  #started = false
  #done = false
  #format: StreamFormat
  #lastByte = NEWLINE
  #dispatchedAt = 0
  #bodyTooLarge = false
  #capture: Buffer[] | undefined
  #captureBytes = 0
  #shutdownError: GatewayError | undefined
  readonly tap: UsageTap | undefined
  /** The upstream status once headers arrived (0 before). */
  status = 0
  /** The 200 answer's body and content type when captured completely. */
  captured: { body: Buffer; contentType: string } | undefined

  constructor(options: ForwardOptions<C>) {
    this.#o = options
    this.tap = options.tapUsage ? new UsageTap() : undefined
  }

  /** Sends the request upstream. */
  start(): void {
    const { req, upstream, settings } = this.#o
    const length = req.headers['content-length']
    let body: IncomingMessage | Readable | null = null
    if (length !== undefined) {
      // Node's parser enforces the declared length; the gateway checked it against the limit.
      if (length !== '0') body = req
    } else if (req.headers['transfer-encoding'] !== undefined) {
      body = Readable.from(
        limitedBody(req, settings.maxBodyBytes, () => (this.#bodyTooLarge = true)),
        { objectMode: false },
      )
    }
    this.#dispatchedAt = performance.now()
    upstream.dispatcher.dispatch(
      {
        origin: originOf(upstream),
        path: this.#o.target,
        method: this.#o.method,
        headers: upstreamRequestHeaders(req.headers, upstream.headers),
        body,
        headersTimeout: settings.headersTimeoutMs,
        bodyTimeout: settings.idleTimeoutMs,
      },
      this,
    )
  }

  /** The client went away: abort the upstream request now. */
  clientGone(): void {
    this.#abort(new ClientGoneError())
  }

  /** Ends the exchange for a gateway shutdown: an in-stream error if it streams, else 503. */
  shutdown(error: GatewayError): void {
    this.#shutdownError = error
    this.#abort(error)
  }

  /** Bytes waiting in the response's buffers, socket included (backpressure observability). */
  get bufferedBytes(): number {
    return this.#o.res.writableLength
  }

  #abort(reason: Error): void {
    if (this.#done) return
    if (this.#controller) this.#controller.abort(reason)
    else this.#pendingAbort = reason
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#pendingAbort) controller.abort(this.#pendingAbort)
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200 || this.#done) return
    const o = this.#o
    this.status = statusCode
    this.#started = true
    o.hooks.upstreamHeaders(o.context, (performance.now() - this.#dispatchedAt) / 1000)
    const { res } = o
    if (res.destroyed) return
    const out = clientResponseHeaders(headers)
    if (statusCode === 503 && out['retry-after'] === undefined) {
      out['retry-after'] = UPSTREAM_RETRY_AFTER
    }
    this.#format = streamFormat(headers['content-type'])
    if (o.captureBytes > 0 && statusCode === 200) this.#capture = []
    try {
      res.writeHead(statusCode, out)
    } catch (error) {
      // A header Node refuses to send (invalid characters): fail this request, not the process.
      res.destroy(error as Error)
      this.#controller?.abort(error as Error)
      return
    }
    // Streams: the client sees the headers at once, not with the first token.
    if (this.#format) res.flushHeaders()
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#done) return
    this.tap?.push(chunk)
    if (this.#capture) {
      this.#captureBytes += chunk.length
      if (this.#captureBytes > this.#o.captureBytes) this.#capture = undefined
      else this.#capture.push(chunk)
    }
    this.#lastByte = chunk[chunk.length - 1] ?? this.#lastByte
    const { res } = this.#o
    if (!res.write(chunk)) {
      controller.pause()
      res.once('drain', () => controller.resume())
    }
  }

  onResponseEnd(): void {
    if (this.#done) return
    const { res } = this.#o
    if (this.#capture) {
      this.captured = {
        body: Buffer.concat(this.#capture, this.#captureBytes),
        contentType: String(res.getHeader('content-type') ?? 'application/json; charset=utf-8'),
      }
    }
    res.end()
    this.#finish(undefined)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#done) return
    const { res } = this.#o
    if (error instanceof ClientGoneError || res.destroyed) return this.#finish(error)
    if (!this.#started) {
      this.#failBeforeHeaders(error)
      return this.#finish(error)
    }
    // Headers are out: say it in the stream's own format, then end.
    const code = this.#shutdownError?.code ?? 'upstream_stream_failed'
    const message =
      this.#shutdownError?.message ??
      `the instance stopped sending in the middle of the answer (${upstreamReason(error)})`
    if (this.#format && !res.writableEnded) {
      const prefix = this.#lastByte === NEWLINE ? '' : this.#format === 'sse' ? '\n\n' : '\n'
      res.end(prefix + streamErrorChunk(this.#format, code, message))
    } else {
      // A plain body cannot carry an error: cut the connection so the client sees a failure.
      res.destroy(error)
    }
    this.#finish(error)
  }

  #failBeforeHeaders(error: Error): void {
    const { res, family, settings } = this.#o
    if (this.#bodyTooLarge) {
      const message = `the request body is larger than ${settings.maxBodyBytes} bytes`
      return sendError(res, family, 413, 'request_too_large', message, { connection: 'close' })
    }
    if (this.#shutdownError) {
      const { code, message } = this.#shutdownError
      return sendError(res, family, 503, code, message, { 'retry-after': 5 })
    }
    if (this.#o.hooks.failBeforeHeaders(this.#o.context, error)) return
    if ((error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') {
      const message =
        'the instance did not answer in time; try again, or raise the upstream headers timeout'
      return sendError(res, family, 504, 'upstream_timeout', message)
    }
    const message = `the instance could not be reached (${upstreamReason(error)}); try again shortly`
    sendError(res, family, 502, 'upstream_unavailable', message)
  }

  #finish(error: Error | undefined): void {
    if (this.#done) return
    this.#done = true
    this.#o.hooks.done(this.#o.context, this, error)
  }
}

// The origin part only, computed once per Upstream: whatever a backend hands out, the request
// goes to scheme://host:port + the allowlisted path, never to a path or query of its own.
const ORIGINS = new WeakMap<Upstream, string>()

function originOf(upstream: Upstream): string {
  let origin = ORIGINS.get(upstream)
  if (origin === undefined) {
    origin = new URL(upstream.origin).origin
    ORIGINS.set(upstream, origin)
  }
  return origin
}

/** A short, secret-free reason for an upstream failure (undici codes and messages carry no headers). */
function upstreamReason(error: Error): string {
  const code = (error as { code?: string }).code
  const text = code ? `${code}: ${errorMessage(error)}` : errorMessage(error)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}
