import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the legacy ones proxies also drop. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]

/**
 * Client request headers that never reach the instance: hop-by-hop ones, the Host (the upstream
 * origin sets its own), the client's credentials (the Upstream headers carry the instance key),
 * browser context (Ollama would judge Origin again), `expect` (Node answers 100-continue), and
 * `accept-encoding` (identity answers keep usage parsing and in-stream errors possible).
 */
const DROP_REQUEST = new Set([
  ...HOP_BY_HOP,
  'host',
  'authorization',
  'x-api-key',
  'x-ollama-key',
  'cookie',
  'origin',
  'referer',
  'expect',
  'accept-encoding',
])

const DROP_RESPONSE = new Set(HOP_BY_HOP)

/** Header names listed in a Connection header (they are hop-by-hop too). */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (!value || value === 'keep-alive' || value === 'close') return undefined
  const text = Array.isArray(value) ? value.join(',') : value
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t && t !== 'close' && t !== 'keep-alive')
  return tokens.length > 0 ? new Set(tokens) : undefined
}

/**
 * The headers to send upstream, as undici's flat `[name, value, …]` list: the client's headers
 * (Node's lower-cased object) minus the dropped ones, then the Upstream's own (instance key).
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  extra: Readonly<Record<string, string>>,
): string[] {
  const alsoDrop = connectionTokens(headers.connection)
  const own = ownHeaders(extra)
  const out: string[] = []
  for (const name in headers) {
    if (DROP_REQUEST.has(name) || alsoDrop?.has(name) || own.names.has(name)) continue
    const value = headers[name]
    if (typeof value === 'string') out.push(name, value)
    else if (value) for (const v of value) out.push(name, v)
  }
  for (let i = 0; i < own.flat.length; i++) out.push(own.flat[i] as string)
  return out
}

interface OwnHeaders {
  names: ReadonlySet<string>
  flat: readonly string[]
}

// An Upstream's headers are fixed for its life: prepare them once.
const OWN = new WeakMap<object, OwnHeaders>()

function ownHeaders(extra: Readonly<Record<string, string>>): OwnHeaders {
  let own = OWN.get(extra)
  if (!own) {
    const names = Object.keys(extra)
    own = {
      names: new Set(names.map((n) => n.toLowerCase())),
      flat: names.flatMap((n) => [n, extra[n] as string]),
    }
    OWN.set(extra, own)
  }
  return own
}

/** The upstream's response headers minus hop-by-hop ones, for `res.writeHead`. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const alsoDrop = connectionTokens(headers.connection)
  const out: OutgoingHttpHeaders = {}
  for (const name in headers) {
    if (DROP_RESPONSE.has(name) || alsoDrop?.has(name)) continue
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  return out
}

/** One header value as a string (first of a list). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
