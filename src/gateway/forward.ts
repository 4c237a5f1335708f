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

export interface ForwardOptions {
  req: IncomingMessage
  res: ServerResponse
  upstream: Upstream
  /** The checked path (allowlisted) and the original query string. */
  path: string
  query: string
  /** The method sent upstream (HEAD on a cached route is forwarded as GET). */
  method: string
  family: ErrorFamily
  maxBodyBytes: number
  headersTimeoutMs: number
  idleTimeoutMs: number
  /** Read usage from the answer (inference routes). */
  tapUsage: boolean
  /** Keep a copy of a 200 answer up to this many bytes (cached routes); 0 = none. */
  captureBytes: number
  /** Called once with the upstream latency (seconds to response headers). */
  onUpstreamHeaders?: (seconds: number, status: number) => void
  /** Called once when the exchange is over (`error` set when it failed). */
  onDone: (exchange: ForwardExchange, error: Error | undefined) => void
  /** Instead of a 502 before headers (cached routes fall back to their cached answer). */
  onFailBeforeHeaders?: ((error: Error) => boolean) | undefined
}

type StreamFormat = 'ndjson' | 'sse' | undefined

const NEWLINE = 0x0a
// A 503 from the instance (Ollama's queue full, nginx booting) without Retry-After gets this one.
const UPSTREAM_RETRY_AFTER = '5'

function streamFormat(contentType: string | string[] | undefined): StreamFormat {
  const ct = (Array.isArray(contentType) ? contentType[0] : contentType)?.toLowerCase() ?? ''
  if (ct.startsWith('application/x-ndjson')) return 'ndjson'
  if (ct.startsWith('text/event-stream')) return 'sse'
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
export class ForwardExchange implements Dispatcher.DispatchHandler {
  readonly #o: ForwardOptions
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
  /** The upstream status once headers arrived. */
  status = 0
  /** The 200 answer's body and content type when captured completely. */
  captured: { body: Buffer; contentType: string } | undefined

  constructor(options: ForwardOptions) {
    this.#o = options
    this.tap = options.tapUsage ? new UsageTap() : undefined
  }

  /** Sends the request upstream. */
  start(): void {
    const { req, upstream, path, query } = this.#o
    const hasBody =
      req.headers['content-length'] !== undefined
        ? req.headers['content-length'] !== '0'
        : req.headers['transfer-encoding'] !== undefined
    let body: IncomingMessage | Readable | null = null
    if (hasBody) {
      body =
        req.headers['content-length'] !== undefined
          ? req // Node's parser enforces the declared length; the gateway checked it against the limit.
          : Readable.from(
              limitedBody(req, this.#o.maxBodyBytes, () => (this.#bodyTooLarge = true)),
              { objectMode: false },
            )
    }
    this.#dispatchedAt = performance.now()
    upstream.dispatcher.dispatch(
      {
        origin: upstream.origin,
        path: query ? `${path}?${query}` : path,
        method: this.#o.method,
        headers: upstreamRequestHeaders(req.rawHeaders, req.headers.connection, upstream.headers),
        body,
        headersTimeout: this.#o.headersTimeoutMs,
        bodyTimeout: this.#o.idleTimeoutMs,
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

  /** Bytes waiting in the response's buffer (backpressure observability). */
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
    const { res } = this.#o
    this.status = statusCode
    this.#started = true
    this.#o.onUpstreamHeaders?.((performance.now() - this.#dispatchedAt) / 1000, statusCode)
    if (res.destroyed) return
    const out = clientResponseHeaders(headers)
    if (statusCode === 503 && out['retry-after'] === undefined)
      out['retry-after'] = UPSTREAM_RETRY_AFTER
    this.#format = streamFormat(headers['content-type'])
    if (this.#o.captureBytes > 0 && statusCode === 200) this.#capture = []
    res.writeHead(statusCode, out)
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
    if (this.#capture) {
      this.captured = {
        body: Buffer.concat(this.#capture, this.#captureBytes),
        contentType: String(
          this.#o.res.getHeader('content-type') ?? 'application/json; charset=utf-8',
        ),
      }
    }
    this.#o.res.end()
    this.#finish(undefined)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#done) return
    const { res, family } = this.#o
    if (error instanceof ClientGoneError || res.destroyed) return this.#finish(error)
    if (!this.#started) {
      if (this.#bodyTooLarge) {
        sendError(
          res,
          family,
          413,
          'request_too_large',
          `the request body is larger than ${this.#o.maxBodyBytes} bytes`,
          {
            connection: 'close',
          },
        )
      } else if (this.#shutdownError) {
        sendError(res, family, 503, this.#shutdownError.code, this.#shutdownError.message, {
          'retry-after': 5,
        })
      } else if (!this.#o.onFailBeforeHeaders?.(error)) {
        const timeout = (error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT'
        sendError(
          res,
          family,
          timeout ? 504 : 502,
          timeout ? 'upstream_timeout' : 'upstream_unavailable',
          timeout
            ? 'the instance did not answer in time; try again, or raise the upstream headers timeout'
            : `the instance could not be reached (${upstreamReason(error)}); try again shortly`,
        )
      }
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

  #finish(error: Error | undefined): void {
    if (this.#done) return
    this.#done = true
    this.#o.onDone(this, error)
  }
}

/** A short, secret-free reason for an upstream failure (undici codes and messages carry no headers). */
function upstreamReason(error: Error): string {
  const code = (error as { code?: string }).code
  const text = code ? `${code}: ${errorMessage(error)}` : errorMessage(error)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}
