import { isIPv4, isIPv6 } from 'node:net'

/**
 * Small text formats of setting values. Each returns the canonical text, or undefined when the
 * input is not of the format.
 */

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`)

/** A comma-separated list; empty entries are dropped; undefined when any entry fails. */
export function parseList(
  input: string,
  item: (entry: string) => string | undefined,
): string[] | undefined {
  const out: string[] = []
  for (const raw of input.split(',')) {
    const entry = raw.trim()
    if (entry === '') continue
    const value = item(entry)
    if (value === undefined) return undefined
    if (!out.includes(value)) out.push(value)
  }
  return out
}

/** An Ollama model name: `name`, `name:tag`, `namespace/name:tag`, `host/namespace/name:tag`. */
export function modelName(input: string): string | undefined {
  const ok =
    /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*){0,2}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/
  return input.length <= 200 && ok.test(input) ? input : undefined
}

/** A host name or IP address as the Host header carries it, with an optional port. */
export function hostPattern(input: string): string | undefined {
  const text = input.toLowerCase()
  let host = text
  let port: string | undefined
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0) return undefined
    host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined
      port = rest.slice(1)
    }
    if (!isIPv6(host)) return undefined
  } else if (isIPv6(text)) {
    return text
  } else {
    const colon = text.lastIndexOf(':')
    if (colon >= 0) {
      host = text.slice(0, colon)
      port = text.slice(colon + 1)
    }
    if (!isIPv4(host) && !HOSTNAME.test(host)) return undefined
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) return undefined
  return text
}

/**
 * A browser origin (`scheme://host[:port]`, no path), `*` for any origin, or a pattern with `*`
 * in the host or port (`http://localhost:*`), as Ollama's OLLAMA_ORIGINS accepts.
 */
export function originPattern(input: string): string | undefined {
  if (input === '*') return input
  const text = input.replace(/\/+$/, '')
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#\s]+)$/i.exec(text)
  if (!match) return undefined
  const scheme = (match[1] ?? '').toLowerCase()
  const authority = (match[2] ?? '').toLowerCase()
  if (!/^[a-z0-9.*\-[\]:]+$/.test(authority)) return undefined
  if ((scheme === 'http' || scheme === 'https') && !authority.includes('*')) {
    try {
      const url = new URL(`${scheme}://${authority}`)
      return url.origin
    } catch {
      return undefined
    }
  }
  return `${scheme}://${authority}`
}

/**
 * How long Ollama keeps a model loaded: a Go duration (`5m`, `1h30m`, `90s`), a number of
 * seconds, or a negative value for "forever" (`-1`).
 */
export function keepAlive(input: string): string | undefined {
  const text = input.trim()
  if (/^-?\d+$/.test(text)) return text
  if (/^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return text
  return undefined
}

/** A version `MAJOR.MINOR.PATCH`. */
export function version(input: string): string | undefined {
  const text = input.trim().replace(/^v/, '')
  return /^\d{1,4}\.\d{1,4}\.\d{1,4}$/.test(text) ? text : undefined
}

/** Compares two `MAJOR.MINOR.PATCH` versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** A Docker image tag. */
export function imageTag(input: string): string | undefined {
  const text = input.trim()
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(text) ? text : undefined
}

/** An http(s) URL without query or fragment; `{zone}` may stand for the zone. */
export function endpointUrl(input: string): string | undefined {
  const text = input.trim().replace(/\/+$/, '')
  if (!/^https?:\/\//i.test(text)) return undefined
  try {
    const url = new URL(text.replaceAll('{zone}', 'zone'))
    if (url.search || url.hash || url.username || url.password) return undefined
    if (!url.hostname) return undefined
  } catch {
    return undefined
  }
  return text
}
