import { isIPv4, isIPv6 } from 'node:net'

/** Where the gateway listens. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/

/**
 * Parses `HOST:PORT` (`127.0.0.1:11434`, `[::1]:11434`, `localhost:8080`, `0.0.0.0:0` for any
 * free port). Returns undefined when the text is not one.
 */
export function parseListenAddress(input: string): ListenAddress | undefined {
  const text = input.trim().toLowerCase()
  let host: string
  let portText: string
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0 || text[close + 1] !== ':') return undefined
    host = text.slice(1, close)
    portText = text.slice(close + 2)
    if (!isIPv6(host) || host.includes('%')) return undefined
  } else {
    const colon = text.lastIndexOf(':')
    if (colon <= 0) return undefined
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (!isIPv4(host) && !HOSTNAME.test(host)) return undefined
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined
  const port = Number(portText)
  if (port > 65535) return undefined
  return { host, port }
}

/** `HOST:PORT`, with brackets around an IPv6 host. */
export function formatListenAddress(address: ListenAddress): string {
  return isIPv6(address.host)
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`
}
