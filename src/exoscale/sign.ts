import { createHmac } from 'node:crypto'
import type { Secret } from '../shared/index.js'

/** How far ahead every client signs (egoscale, python-exoscale, exoscale-sdk-ts all use 10 min). */
export const DEFAULT_EXPIRES_IN_SECONDS = 600
/** The most we ever sign ahead: the server's tolerance is undocumented, one hour is our limit. */
export const MAX_EXPIRES_IN_SECONDS = 3600

/** Query arguments as the server decodes them: one value, or several (which are not signed). */
export type SignableQuery = Readonly<Record<string, string | readonly string[] | undefined>>

export interface SignRequestInput {
  /** HTTP method, e.g. "GET". Upper-cased before signing. */
  method: string
  /** The escaped URL path exactly as sent, including `/v2` or any endpoint prefix. */
  path: string
  /** DECODED query values. Only names with exactly one value are signed. */
  query?: SignableQuery
  /** The exact body string sent; empty or absent when there is no body. */
  body?: string
  apiKey: string
  apiSecret: Secret
  /** UNIX seconds at which the signature expires. */
  expires: number
}

/** Byte-wise comparison, like Go's sort.Strings on UTF-8. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * The `Authorization` header value for an Exoscale API v2 request (EXO2-HMAC-SHA256).
 *
 * Message: `METHOD path`, body, the concatenated values of the single-valued query arguments in
 * byte-wise sorted name order, an empty header segment, and `expires`, joined by "\n". The
 * signature is standard base64 (with padding) of HMAC-SHA256 keyed by the API secret. Pure.
 */
export function signRequest(input: SignRequestInput): string {
  const names: string[] = []
  const values = new Map<string, string>()
  for (const [name, value] of Object.entries(input.query ?? {})) {
    if (value === undefined) continue
    if (typeof value === 'string') {
      names.push(name)
      values.set(name, value)
    } else if (value.length === 1) {
      names.push(name)
      values.set(name, value[0] as string)
    }
    // Multi-valued names are sent but not signed (Go extractRequestParameters).
  }
  names.sort(compareBytes)
  const message = [
    `${input.method.toUpperCase()} ${input.path}`,
    input.body ?? '',
    names.map((n) => values.get(n)).join(''),
    '',
    String(input.expires),
  ].join('\n')
  const signature = createHmac('sha256', input.apiSecret.reveal())
    .update(message, 'utf8')
    .digest('base64')
  const parts = [`credential=${input.apiKey}`]
  if (names.length > 0) parts.push(`signed-query-args=${names.join(';')}`)
  parts.push(`expires=${input.expires}`, `signature=${signature}`)
  return `EXO2-HMAC-SHA256 ${parts.join(',')}`
}

/** `expires` for a request signed at `nowMs`: `inSeconds` ahead, clamped to 1 s … 1 h. */
export function expiresAt(nowMs: number, inSeconds = DEFAULT_EXPIRES_IN_SECONDS): number {
  const ahead = Math.min(MAX_EXPIRES_IN_SECONDS, Math.max(1, Math.floor(inSeconds)))
  return Math.floor(nowMs / 1000) + ahead
}
