import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Server-side check of Exoscale's EXO2-HMAC-SHA256 request signatures, written from the published
 * algorithm (API docs "API Request Signature"; egoscale `signRequest`/`extractRequestParameters`).
 * It deliberately shares no code with the client in src/exoscale, so a signing bug on one side
 * cannot cancel out on the other.
 *
 * message = `${METHOD} ${rawPath}\n${body}\n${values of signed query args}\n\n${expires}`
 */

/** The scheme word at the start of the Authorization header. */
export const SIGNATURE_SCHEME = 'EXO2-HMAC-SHA256'

/** How far ahead of the server clock `expires` may be (clients sign now + 10 min). */
export const DEFAULT_MAX_EXPIRES_AHEAD_SECONDS = 3600

/** The parsed parts of an `Authorization: EXO2-HMAC-SHA256 ...` header. */
export interface ParsedAuthorization {
  credential: string
  signedQueryArgs: string[]
  expires: number
  signature: string
}

export type SignatureFailure =
  /** No Authorization header. */
  | 'missing'
  /** Not the EXO2-HMAC-SHA256 scheme, or a part is missing, repeated or unknown. */
  | 'malformed'
  /** No secret for this API key. */
  | 'unknown-key'
  /** `expires` lies in the past. */
  | 'expired'
  /** `expires` lies more than the allowed window ahead. */
  | 'too-far-ahead'
  /** signed-query-args is not exactly the sorted names of the single-valued query args. */
  | 'query-args'
  /** The HMAC does not match. */
  | 'mismatch'

export type SignatureCheck =
  | { ok: true; key: string; expires: number }
  | { ok: false; failure: SignatureFailure; detail: string }

export interface VerifySignatureInput {
  method: string
  /** The path exactly as received on the wire (escaped, with any /v2 or zone prefix), no query. */
  rawPath: string
  /** The raw query string as received, without the leading `?` (may be empty). */
  rawQuery: string
  /** The body bytes exactly as received (empty when there is none). */
  body: Buffer | string
  /** The Authorization header value, if any. */
  authorization: string | undefined
  /** Server time, milliseconds since the epoch. */
  nowMs: number
  /** The secret of an API key, or undefined when the key is unknown. */
  secretFor: (key: string) => string | undefined
  maxExpiresAheadSeconds?: number
}

/** Parses the header; returns undefined when it is not a well-formed EXO2-HMAC-SHA256 header. */
export function parseAuthorization(header: string): ParsedAuthorization | undefined {
  const prefix = `${SIGNATURE_SCHEME} `
  if (!header.startsWith(prefix)) return undefined
  const parts = header.slice(prefix.length).split(',')
  const seen = new Map<string, string>()
  for (const part of parts) {
    const eq = part.indexOf('=')
    if (eq <= 0) return undefined
    const name = part.slice(0, eq)
    const value = part.slice(eq + 1)
    if (!['credential', 'signed-query-args', 'expires', 'signature'].includes(name))
      return undefined
    if (seen.has(name)) return undefined
    seen.set(name, value)
  }
  const credential = seen.get('credential')
  const expires = seen.get('expires')
  const signature = seen.get('signature')
  if (!credential || !expires || !signature) return undefined
  if (!/^\d{1,12}$/.test(expires)) return undefined
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return undefined
  const sqa = seen.get('signed-query-args')
  if (sqa === '') return undefined
  return {
    credential,
    signedQueryArgs: sqa === undefined ? [] : sqa.split(';'),
    expires: Number(expires),
    signature,
  }
}

/**
 * The query args that take part in the signature, Go `url.Query()` style: decoded values, names
 * with exactly one value only, names sorted byte-wise.
 */
export function signedQueryArgs(rawQuery: string): { names: string[]; values: string[] } {
  const all = new Map<string, string[]>()
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    const list = all.get(name)
    if (list) list.push(value)
    else all.set(name, [value])
  }
  const names = [...all.keys()]
    .filter((n) => all.get(n)?.length === 1)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  return { names, values: names.map((n) => all.get(n)?.[0] ?? '') }
}

/** The exact bytes that are HMAC'd. */
export function signingMessage(
  method: string,
  rawPath: string,
  body: Buffer | string,
  queryValues: readonly string[],
  expires: number,
): Buffer {
  return Buffer.concat([
    Buffer.from(`${method.toUpperCase()} ${rawPath}\n`, 'utf8'),
    typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
    Buffer.from(`\n${queryValues.join('')}\n\n${expires}`, 'utf8'),
  ])
}

/** base64(HMAC-SHA256(secret, message)), padded. */
export function hmacSignature(secret: string, message: Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(message).digest('base64')
}

/** Checks one request's signature the way the Exoscale API does (see the module comment). */
export function verifySignature(input: VerifySignatureInput): SignatureCheck {
  if (input.authorization === undefined || input.authorization === '') {
    return { ok: false, failure: 'missing', detail: 'no Authorization header' }
  }
  const parsed = parseAuthorization(input.authorization)
  if (!parsed) {
    return {
      ok: false,
      failure: 'malformed',
      detail: 'Authorization header is not EXO2-HMAC-SHA256',
    }
  }
  const secret = input.secretFor(parsed.credential)
  if (secret === undefined) return { ok: false, failure: 'unknown-key', detail: 'unknown API key' }
  const nowSeconds = Math.floor(input.nowMs / 1000)
  if (parsed.expires < nowSeconds) {
    return {
      ok: false,
      failure: 'expired',
      detail: `expires ${parsed.expires} is before server time ${nowSeconds}`,
    }
  }
  const ahead = input.maxExpiresAheadSeconds ?? DEFAULT_MAX_EXPIRES_AHEAD_SECONDS
  if (parsed.expires > nowSeconds + ahead) {
    return {
      ok: false,
      failure: 'too-far-ahead',
      detail: `expires ${parsed.expires} is more than ${ahead} s after server time ${nowSeconds}`,
    }
  }
  const query = signedQueryArgs(input.rawQuery)
  if (parsed.signedQueryArgs.join(';') !== query.names.join(';')) {
    return {
      ok: false,
      failure: 'query-args',
      detail: `signed-query-args must be ${query.names.join(';') || '(absent)'}`,
    }
  }
  const expected = hmacSignature(
    secret,
    signingMessage(input.method, input.rawPath, input.body, query.values, parsed.expires),
  )
  const a = Buffer.from(expected)
  const b = Buffer.from(parsed.signature)
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    return { ok: false, failure: 'mismatch', detail: 'signature does not match' }
  }
  return { ok: true, key: parsed.credential, expires: parsed.expires }
}
