import { request as httpRequest, Agent } from 'node:http'
import type { Clock } from '../../../src/shared/index.js'
import { signAuthorization } from './signer.js'

export interface ApiResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  // Parsed JSON body; tests index into it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any
}

export interface ApiTarget {
  /** e.g. http://127.0.0.1:1234/v2 or http://127.0.0.1:1234/at-vie-2/v2 */
  endpoint: string
  credentials: { key: string; secret: string }
  clock: Clock
}

export interface CallOptions {
  query?: Record<string, string>
  /** A JSON value (serialised once) or a raw string sent as is. */
  body?: unknown
  /** Default application/json when there is a body. null: send none. */
  contentType?: string | null
  /** false: no Authorization header; a string: that header verbatim. */
  auth?: false | string
  /** Seconds added to now for `expires`. Default 600. */
  expiresIn?: number
  credentials?: { key: string; secret: string }
  /** Extra raw query appended unsigned (e.g. a repeated arg), without '?'. */
  rawQuerySuffix?: string
}

const agent = new Agent({ keepAlive: false })

/** One signed (or deliberately unsigned) request to the simulator over real HTTP. */
export async function call(
  target: ApiTarget,
  method: string,
  apiPath: string,
  options: CallOptions = {},
): Promise<ApiResponse> {
  const base = new URL(target.endpoint)
  const path = `${base.pathname}${apiPath}`
  const query = options.query ?? {}
  const qs = new URLSearchParams(query).toString().replace(/\+/g, '%20')
  const rawQuery = [qs, options.rawQuerySuffix].filter((s) => s).join('&')
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body)
  const headers: Record<string, string> = {}
  // Explicit length: Node's client frames no body on GET/DELETE otherwise.
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
  if (body !== undefined && options.contentType !== null) {
    headers['content-type'] = options.contentType ?? 'application/json'
  }
  if (options.auth !== false) {
    const creds = options.credentials ?? target.credentials
    headers['authorization'] =
      typeof options.auth === 'string'
        ? options.auth
        : signAuthorization({
            method,
            path,
            query,
            body: body ?? '',
            key: creds.key,
            secret: creds.secret,
            expires: Math.floor(target.clock.now() / 1000) + (options.expiresIn ?? 600),
          })
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method,
        path: rawQuery ? `${path}?${rawQuery}` : path,
        headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try {
            json = text ? JSON.parse(text) : undefined
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
      },
    )
    req.on('error', reject)
    if (body !== undefined) req.end(body)
    else req.end()
  })
}
