import { isIP } from 'node:net'

/**
 * DNS-rebinding and CORS policy for the local gateway (reliability-security §2.9). A page on
 * `http://evil.example` that rebinds its name to 127.0.0.1 reaches the gateway with
 * `Host: evil.example:PORT`; a strict Host allowlist refuses it. Browser origins are checked too:
 * loopback origins (as Ollama allows by default) and configured ones only, never `*`.
 */
export interface HostPolicy {
  /** The address the gateway listens on; undefined when it is used in-process only. */
  listenHost: string | undefined
  /** The port it listens on; undefined = any port (in-process use). */
  port: number | undefined
  allowedHosts: readonly string[]
  allowedOrigins: readonly string[]
}

export interface ParsedHost {
  hostname: string
  port: number | undefined
}

/** Whether an IP address (v4, v6 or v4-mapped v6) is a loopback address. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false
  const a = address.toLowerCase()
  return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.')
}

/** Whether the listen address accepts connections from every interface. */
export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '' || address === '[::]'
}

/** Whether a host name or IP literal always means this machine. */
export function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || isLoopbackAddress(hostname)
}

/** Parses a Host header value (`name`, `name:port`, `[v6]:port`); undefined when malformed. */
export function parseHost(value: string): ParsedHost | undefined {
  const v = value.trim().toLowerCase()
  let hostname: string
  let portText: string | undefined
  if (v.startsWith('[')) {
    const end = v.indexOf(']')
    if (end < 0) return undefined
    hostname = v.slice(1, end)
    const rest = v.slice(end + 1)
    if (rest !== '' && !rest.startsWith(':')) return undefined
    portText = rest === '' ? undefined : rest.slice(1)
    if (isIP(hostname) !== 6) return undefined
  } else {
    const colon = v.lastIndexOf(':')
    hostname = colon < 0 ? v : v.slice(0, colon)
    portText = colon < 0 ? undefined : v.slice(colon + 1)
    if (!/^[a-z0-9.-]+$/.test(hostname)) return undefined
  }
  if (portText === undefined) return { hostname, port: undefined }
  if (!/^\d{1,5}$/.test(portText)) return undefined
  const port = Number(portText)
  return port > 0 && port < 65536 ? { hostname, port } : undefined
}

/** Whether a listen address (IP literal or name) is loopback-only. */
export function isLoopbackListenHost(host: string): boolean {
  return isLoopbackName(normaliseListenHost(host))
}

function normaliseListenHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']')
    ? host.slice(1, -1).toLowerCase()
    : host.toLowerCase()
}

/** Whether the Host header names this gateway. A missing Host (HTTP/1.0 tools) is accepted. */
export function hostAllowed(value: string | undefined, policy: HostPolicy): boolean {
  if (value === undefined) return true
  const parsed = parseHost(value)
  if (!parsed) return false
  const port = parsed.port ?? 80
  const portMatches = policy.port === undefined || port === policy.port
  for (const entry of policy.allowedHosts) {
    const allowed = parseHost(entry)
    if (!allowed || allowed.hostname !== parsed.hostname) continue
    if (allowed.port === undefined || allowed.port === port) return true
  }
  if (!portMatches) return false
  if (isLoopbackName(parsed.hostname)) return true
  if (policy.listenHost === undefined) return false
  const listen = normaliseListenHost(policy.listenHost)
  // On a wildcard address any IP literal is fine: rebinding needs a name the attacker controls.
  if (isWildcardAddress(listen)) return isIP(parsed.hostname) !== 0
  return parsed.hostname === listen
}

// Non-web schemes of desktop apps that embed a browser, as Ollama allows them by default.
const APP_SCHEMES = ['app:', 'tauri:', 'vscode-webview:', 'vscode-file:']

/** Whether a browser Origin may call the gateway, given whether the Host named a loopback address. */
export function originAllowed(
  origin: string,
  hostIsLoopback: boolean,
  policy: HostPolicy,
): boolean {
  if (policy.allowedOrigins.includes(origin)) return true
  // A browser page talking to the gateway under a non-loopback name: only configured origins.
  if (!hostIsLoopback) return false
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if (APP_SCHEMES.includes(url.protocol)) return true
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return isLoopbackName(hostname)
}

/** Whether the Host header value names a loopback host (a missing Host counts as loopback). */
export function hostIsLoopback(value: string | undefined): boolean {
  if (value === undefined) return true
  const parsed = parseHost(value)
  return parsed !== undefined && isLoopbackName(parsed.hostname)
}
