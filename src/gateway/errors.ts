import type { ServerResponse } from 'node:http'
import { ExollamaError, type ErrorKind } from '../shared/index.js'

/** Which error shape a path speaks: OpenAI's on `/v1/*`, Ollama's everywhere else. */
export type ErrorFamily = 'ollama' | 'openai'

export function familyOf(path: string): ErrorFamily {
  return path === '/v1' || path.startsWith('/v1/') ? 'openai' : 'ollama'
}

/** An error the gateway itself answers with: a status, a stable code and a one-line message. */
export class GatewayError extends ExollamaError {
  override name = 'GatewayError'
  readonly status: number
  readonly retryAfterSeconds: number | undefined

  constructor(
    status: number,
    code: string,
    message: string,
    options: { kind?: ErrorKind; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(code, message, {
      kind: options.kind ?? (status >= 500 ? 'cloud' : 'usage'),
      cause: options.cause,
    })
    this.status = status
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  431: 'invalid_request_error',
}

/** The OpenAI `type` for a status (Ollama's `/v1/*` handlers use the same words). */
export function openAiErrorType(status: number): string {
  return OPENAI_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

/**
 * The error body in the route family's shape. Ollama: `{"error":"…","code":"…"}` (clients read
 * `error`); OpenAI: `{"error":{"message","type","param","code"}}`.
 */
export function errorBody(
  family: ErrorFamily,
  status: number,
  code: string,
  message: string,
): string {
  if (family === 'openai') {
    return JSON.stringify({
      error: { message, type: openAiErrorType(status), param: null, code },
    })
  }
  return JSON.stringify({ error: message, code })
}

/** The in-stream error for a stream whose headers are already sent, in the stream's own format. */
export function streamErrorChunk(format: 'ndjson' | 'sse', code: string, message: string): string {
  if (format === 'sse') {
    return `data: ${JSON.stringify({ error: { message, type: 'api_error', param: null, code } })}\n\n`
  }
  return `${JSON.stringify({ error: message, code })}\n`
}

/** HTTP status for an error a port threw, by its kind. */
export function statusForError(error: unknown): number {
  if (error instanceof GatewayError) return error.status
  if (error instanceof ExollamaError) {
    switch (error.kind) {
      case 'usage':
      case 'config':
        return 400
      case 'cloud':
        return 503
      case 'timeout':
        return 504
      default:
        return 500
    }
  }
  return 500
}

/**
 * Answers with an error in the family's shape (JSON, `content-length`, `cache-control: no-store`).
 * Does nothing when the response has already started.
 */
export function sendError(
  res: ServerResponse,
  family: ErrorFamily,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string | number> = {},
): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return
  const body = errorBody(family, status, code, message)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(res.req?.method === 'HEAD' ? undefined : body)
}

/** Sends a GatewayError (with its Retry-After). */
export function sendGatewayError(
  res: ServerResponse,
  family: ErrorFamily,
  error: GatewayError,
  headers: Record<string, string | number> = {},
): void {
  const extra =
    error.retryAfterSeconds === undefined
      ? headers
      : { ...headers, 'retry-after': error.retryAfterSeconds }
  sendError(res, family, error.status, error.code, error.message, extra)
}
