import net from 'node:net'
import { ExollamaError } from '../../shared/index.js'
import type { NginxDirective } from './nginx-conf.js'
import type { SiteSource } from './instance-site.js'

/**
 * The Node stand-in's understanding of an nginx site: a small interpreter for the subset of
 * nginx that an instance config uses (`map`, `geo`, `log_format`, one TLS `server` with `if` /
 * `return` / `set`, exact, prefix, regex and named locations, `alias`, `error_page`,
 * `add_header`, `access_log … if=`, `proxy_pass` + `proxy_set_header`). The key check, the
 * routes that count as activity and the boot-status file all come from the config itself, so
 * the stand-in behaves like nginx running that config. Anything outside the subset is refused
 * when the site is compiled (StandinUnsupportedError), never silently ignored.
 */

export class StandinUnsupportedError extends ExollamaError {
  override name = 'StandinUnsupportedError'
  constructor(message: string) {
    super(
      'vm_standin_unsupported',
      `${message}; the Node stand-in cannot run this config (use real nginx)`,
      {
        kind: 'internal',
      },
    )
  }
}

interface MapDef {
  source: string
  defaultValue: string
  /** Plain strings, compared case-insensitively (nginx lower-cases them into a hash). */
  exact: Map<string, string>
  regexes: { re: RegExp; value: string }[]
}

interface GeoDef {
  source: string
  defaultValue: string
  nets: { base: number; bits: number; value: string }[]
}

type Condition =
  | { kind: 'truthy'; variable: string }
  | { kind: 'compare'; variable: string; negate: boolean; value: string }
  | { kind: 'regex'; variable: string; negate: boolean; re: RegExp }

export type RewriteStep =
  | { kind: 'if'; condition: Condition; steps: RewriteStep[] }
  | { kind: 'return'; code: number; text: string | undefined }
  | { kind: 'set'; variable: string; value: string }

export interface HeaderAdd {
  name: string
  value: string
  always: boolean
}

export interface LogTarget {
  /** The VM path of the log file. */
  path: string
  format: string
  /** A complex value: the line is written when it is neither empty nor "0". */
  condition: string | undefined
}

export interface ErrorPage {
  target: string
  /** `=` alone: the target's own status; `=NNN`: that status; undefined: the original one. */
  override: 'target' | number | undefined
}

export interface LocationDef {
  modifier: '=' | '~' | '~*' | '^~' | '' | '@'
  pattern: string
  regex: RegExp | undefined
  rewrite: RewriteStep[]
  defaultType: string | undefined
  emptyTypes: boolean
  alias: string | undefined
  proxyPass: { host: string; port: number } | undefined
  /** Lower-cased name → complex value ('' removes the header). */
  proxySetHeaders: Map<string, string>
  addHeaders: HeaderAdd[] | undefined
  accessLogs: LogTarget[] | 'off' | undefined
  errorPages: Map<number, ErrorPage>
  clientMaxBodySize: number | undefined
  line: number
}

export interface ServerDef {
  listens: string[]
  certPath: string
  keyPath: string
  /** Lowest TLS version of `ssl_protocols` (Node's names). */
  minVersion: 'TLSv1.2' | 'TLSv1.3' | undefined
  rewrite: RewriteStep[]
  defaultType: string | undefined
  addHeaders: HeaderAdd[] | undefined
  accessLogs: LogTarget[] | 'off' | undefined
  errorPages: Map<number, ErrorPage>
  clientMaxBodySize: number | undefined
  locations: LocationDef[]
  named: Map<string, LocationDef>
}

export interface StandinSite {
  maps: Map<string, MapDef>
  geos: Map<string, GeoDef>
  logFormats: Map<string, string>
  server: ServerDef
}

const IGNORED_SERVER = new Set([
  'server_name',
  'server_tokens',
  'ssl_ciphers',
  'ssl_prefer_server_ciphers',
  'ssl_session_cache',
  'ssl_session_timeout',
  'ssl_session_tickets',
  'ssl_stapling',
  'http2',
  'gzip',
  'keepalive_timeout',
  'client_body_timeout',
  'client_header_timeout',
  'send_timeout',
  'error_log',
  'charset',
])
/** Timeouts and buffering switches: the stand-in streams and never times a request out. */
const IGNORED_LOCATION = new Set([
  'proxy_http_version',
  'proxy_buffering',
  'proxy_request_buffering',
  'proxy_connect_timeout',
  'proxy_read_timeout',
  'proxy_send_timeout',
  'gzip',
  'error_log',
  'chunked_transfer_encoding',
])

/** nginx's built-in variables the stand-in provides. */
const BUILTIN = new Set([
  'uri',
  'request_uri',
  'args',
  'request_method',
  'remote_addr',
  'msec',
  'status',
  'request_time',
  'body_bytes_sent',
  'time_local',
  'request',
  'host',
  'scheme',
  'server_protocol',
])

function pcre(pattern: string, flags = ''): RegExp {
  // PCRE's (?P<name>…) is JavaScript's (?<name>…).
  return new RegExp(pattern.replace(/\(\?P</g, '(?<'), flags)
}

function parseSize(value: string, line: number): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value)
  if (!m?.[1]) throw new StandinUnsupportedError(`size "${value}" on line ${line}`)
  const unit = (m[2] ?? '').toLowerCase()
  return (
    Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1)
  )
}

function parseIpv4(text: string): number | undefined {
  if (!net.isIPv4(text)) return undefined
  return text.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0)
}

function variableName(arg: string, line: number): string {
  const m = /^\$(\w+)$/.exec(arg)
  if (!m?.[1]) throw new StandinUnsupportedError(`"${arg}" is not a variable (line ${line})`)
  return m[1]
}

function parseCondition(args: string[], line: number): Condition {
  const text = args.join(' ').trim()
  const m = /^\(\s*\$(\w+)\s*(?:(=|!=|~\*|~|!~\*|!~)\s*(.*?))?\s*\)$/.exec(text)
  if (!m?.[1]) throw new StandinUnsupportedError(`if condition "${text}" on line ${line}`)
  const variable = m[1]
  const op = m[2]
  const raw = (m[3] ?? '').replace(/^(["'])(.*)\1$/, '$2')
  if (op === undefined) return { kind: 'truthy', variable }
  if (op === '=' || op === '!=')
    return { kind: 'compare', variable, negate: op === '!=', value: raw }
  return {
    kind: 'regex',
    variable,
    negate: op.startsWith('!'),
    re: pcre(raw, op.endsWith('*') ? 'i' : ''),
  }
}

function parseRewrite(d: NginxDirective): RewriteStep {
  if (d.name === 'return') {
    const code = Number(d.args[0])
    if (!Number.isInteger(code) || code < 100 || code > 999 || d.args.length > 2) {
      throw new StandinUnsupportedError(`return ${d.args.join(' ')} on line ${d.line}`)
    }
    return { kind: 'return', code, text: d.args[1] }
  }
  if (d.name === 'set') {
    if (d.args.length !== 2) throw new StandinUnsupportedError(`set on line ${d.line}`)
    return { kind: 'set', variable: variableName(d.args[0] ?? '', d.line), value: d.args[1] ?? '' }
  }
  // if
  const steps = (d.block ?? []).map((inner) => {
    if (inner.name !== 'return' && inner.name !== 'set') {
      throw new StandinUnsupportedError(`"${inner.name}" inside if (line ${inner.line})`)
    }
    return parseRewrite(inner)
  })
  return { kind: 'if', condition: parseCondition(d.args, d.line), steps }
}

function parseAddHeader(d: NginxDirective): HeaderAdd {
  const [name, value, flag] = d.args
  if (!name || value === undefined || (flag !== undefined && flag !== 'always')) {
    throw new StandinUnsupportedError(`add_header on line ${d.line}`)
  }
  return { name, value, always: flag === 'always' }
}

function parseAccessLog(d: NginxDirective): LogTarget | 'off' {
  const [file, format = 'combined', ...rest] = d.args
  if (file === 'off') return 'off'
  if (!file?.startsWith('/')) throw new StandinUnsupportedError(`access_log on line ${d.line}`)
  let condition: string | undefined
  for (const arg of rest) {
    if (arg.startsWith('if=')) condition = arg.slice(3)
    else throw new StandinUnsupportedError(`access_log parameter "${arg}" on line ${d.line}`)
  }
  return { path: file, format, condition }
}

function addLog(
  logs: LogTarget[] | 'off' | undefined,
  target: LogTarget | 'off',
): LogTarget[] | 'off' {
  if (target === 'off' || logs === 'off') return 'off'
  return [...(logs ?? []), target]
}

function parseErrorPage(d: NginxDirective, into: Map<number, ErrorPage>): void {
  const args = [...d.args]
  const target = args.pop()
  if (!target) throw new StandinUnsupportedError(`error_page on line ${d.line}`)
  let override: ErrorPage['override']
  const last = args.at(-1)
  if (last?.startsWith('=')) {
    args.pop()
    override = last === '=' ? 'target' : Number(last.slice(1))
  }
  for (const code of args) into.set(Number(code), { target, override })
}

function parseLocation(d: NginxDirective): LocationDef {
  const args = d.args
  let modifier: LocationDef['modifier'] = ''
  let pattern = args[0] ?? ''
  if (args.length === 2) {
    const m = args[0]
    if (m !== '=' && m !== '~' && m !== '~*' && m !== '^~') {
      throw new StandinUnsupportedError(`location modifier "${m}" on line ${d.line}`)
    }
    modifier = m
    pattern = args[1] ?? ''
  } else if (pattern.startsWith('@')) modifier = '@'
  const loc: LocationDef = {
    modifier,
    pattern,
    regex:
      modifier === '~' || modifier === '~*'
        ? pcre(pattern, modifier === '~*' ? 'i' : '')
        : undefined,
    rewrite: [],
    defaultType: undefined,
    emptyTypes: false,
    alias: undefined,
    proxyPass: undefined,
    proxySetHeaders: new Map(),
    addHeaders: undefined,
    accessLogs: undefined,
    errorPages: new Map(),
    clientMaxBodySize: undefined,
    line: d.line,
  }
  for (const inner of d.block ?? []) {
    const a = inner.args
    switch (inner.name) {
      case 'if':
      case 'return':
      case 'set':
        loc.rewrite.push(parseRewrite(inner))
        break
      case 'default_type':
        loc.defaultType = a[0]
        break
      case 'types':
        if ((inner.block ?? []).length > 0) {
          throw new StandinUnsupportedError(`a non-empty types block on line ${inner.line}`)
        }
        loc.emptyTypes = true
        break
      case 'alias':
        loc.alias = a[0]
        break
      case 'add_header':
        ;(loc.addHeaders ??= []).push(parseAddHeader(inner))
        break
      case 'access_log': {
        const target = parseAccessLog(inner)
        loc.accessLogs = addLog(loc.accessLogs, target)
        break
      }
      case 'error_page':
        parseErrorPage(inner, loc.errorPages)
        break
      case 'client_max_body_size':
        loc.clientMaxBodySize = parseSize(a[0] ?? '', inner.line)
        break
      case 'proxy_pass': {
        const m = /^http:\/\/([^/:]+):(\d+)$/.exec(a[0] ?? '')
        if (!m?.[1]) throw new StandinUnsupportedError(`proxy_pass ${a[0]} on line ${inner.line}`)
        loc.proxyPass = { host: m[1], port: Number(m[2]) }
        break
      }
      case 'proxy_set_header':
        if (a.length !== 2)
          throw new StandinUnsupportedError(`proxy_set_header on line ${inner.line}`)
        loc.proxySetHeaders.set((a[0] ?? '').toLowerCase(), a[1] ?? '')
        break
      default:
        if (!IGNORED_LOCATION.has(inner.name)) {
          throw new StandinUnsupportedError(
            `directive "${inner.name}" in a location (line ${inner.line})`,
          )
        }
    }
  }
  return loc
}

function parseMap(d: NginxDirective): [string, MapDef] {
  if (d.args.length !== 2) throw new StandinUnsupportedError(`map on line ${d.line}`)
  const def: MapDef = { source: d.args[0] ?? '', defaultValue: '', exact: new Map(), regexes: [] }
  for (const entry of d.block ?? []) {
    const value = entry.args[0] ?? ''
    if (entry.args.length !== 1)
      throw new StandinUnsupportedError(`map entry on line ${entry.line}`)
    if (entry.name === 'default') def.defaultValue = value
    else if (entry.name.startsWith('~*'))
      def.regexes.push({ re: pcre(entry.name.slice(2), 'i'), value })
    else if (entry.name.startsWith('~')) def.regexes.push({ re: pcre(entry.name.slice(1)), value })
    else if (entry.name === 'hostnames' || entry.name === 'volatile' || entry.name === 'include') {
      throw new StandinUnsupportedError(`map parameter "${entry.name}" on line ${entry.line}`)
    } else def.exact.set(entry.name.replace(/^\\/, '').toLowerCase(), value)
  }
  return [variableName(d.args[1] ?? '', d.line), def]
}

function parseGeo(d: NginxDirective): [string, GeoDef] {
  const [source, target] = d.args.length === 2 ? d.args : ['$remote_addr', d.args[0]]
  if (source !== '$remote_addr' || target === undefined) {
    throw new StandinUnsupportedError(`geo on line ${d.line}`)
  }
  const def: GeoDef = { source: '$remote_addr', defaultValue: '', nets: [] }
  for (const entry of d.block ?? []) {
    const value = entry.args[0] ?? ''
    if (entry.name === 'default') {
      def.defaultValue = value
      continue
    }
    const [ip, bitsText] = entry.name.split('/')
    const base = parseIpv4(ip ?? '')
    const bits = bitsText === undefined ? 32 : Number(bitsText)
    // IPv6 networks never match: the instance's addresses here are IPv4 loopback ones.
    if (base === undefined) {
      if (net.isIPv6(ip ?? '')) continue
      throw new StandinUnsupportedError(`geo entry "${entry.name}" on line ${entry.line}`)
    }
    def.nets.push({ base, bits, value })
  }
  return [variableName(target, d.line), def]
}

function parseServer(d: NginxDirective): ServerDef {
  const server: ServerDef = {
    listens: [],
    certPath: '',
    keyPath: '',
    minVersion: undefined,
    rewrite: [],
    defaultType: undefined,
    addHeaders: undefined,
    accessLogs: undefined,
    errorPages: new Map(),
    clientMaxBodySize: undefined,
    locations: [],
    named: new Map(),
  }
  for (const inner of d.block ?? []) {
    const a = inner.args
    switch (inner.name) {
      case 'listen':
        if (!a.includes('ssl'))
          throw new StandinUnsupportedError(`a listen without ssl (line ${inner.line})`)
        server.listens.push(a[0] ?? '')
        break
      case 'ssl_certificate':
        server.certPath = a[0] ?? ''
        break
      case 'ssl_certificate_key':
        server.keyPath = a[0] ?? ''
        break
      case 'ssl_protocols':
        server.minVersion = a.includes('TLSv1.2')
          ? 'TLSv1.2'
          : a.includes('TLSv1.3')
            ? 'TLSv1.3'
            : undefined
        if (!server.minVersion) throw new StandinUnsupportedError(`ssl_protocols ${a.join(' ')}`)
        break
      case 'if':
      case 'return':
      case 'set':
        server.rewrite.push(parseRewrite(inner))
        break
      case 'default_type':
        server.defaultType = a[0]
        break
      case 'add_header':
        ;(server.addHeaders ??= []).push(parseAddHeader(inner))
        break
      case 'access_log': {
        const target = parseAccessLog(inner)
        server.accessLogs = addLog(server.accessLogs, target)
        break
      }
      case 'error_page':
        parseErrorPage(inner, server.errorPages)
        break
      case 'client_max_body_size':
        server.clientMaxBodySize = parseSize(a[0] ?? '', inner.line)
        break
      case 'location': {
        const loc = parseLocation(inner)
        if (loc.modifier === '@') server.named.set(loc.pattern, loc)
        else server.locations.push(loc)
        break
      }
      default:
        if (!IGNORED_SERVER.has(inner.name)) {
          throw new StandinUnsupportedError(
            `directive "${inner.name}" in server (line ${inner.line})`,
          )
        }
    }
  }
  if (!server.certPath || !server.keyPath) {
    throw new StandinUnsupportedError('a server without ssl_certificate and ssl_certificate_key')
  }
  return server
}

/** Compiles the site sources into the stand-in's model; throws StandinUnsupportedError. */
export function compileStandinSite(sources: readonly SiteSource[]): StandinSite {
  const maps = new Map<string, MapDef>()
  const geos = new Map<string, GeoDef>()
  const logFormats = new Map<string, string>()
  const servers: ServerDef[] = []
  for (const source of sources) {
    for (const d of source.directives) {
      switch (d.name) {
        case 'map': {
          const [name, def] = parseMap(d)
          maps.set(name, def)
          break
        }
        case 'geo': {
          const [name, def] = parseGeo(d)
          geos.set(name, def)
          break
        }
        case 'log_format': {
          const [name, ...parts] = d.args
          if (!name) throw new StandinUnsupportedError(`log_format on line ${d.line}`)
          logFormats.set(name, parts.filter((p) => !p.startsWith('escape=')).join(''))
          break
        }
        case 'server':
          servers.push(parseServer(d))
          break
        default:
          throw new StandinUnsupportedError(
            `directive "${d.name}" at the top of ${source.vmPath} (line ${d.line})`,
          )
      }
    }
  }
  if (servers.length !== 1) {
    throw new StandinUnsupportedError(`${servers.length} server blocks (it runs exactly one)`)
  }
  const site: StandinSite = { maps, geos, logFormats, server: servers[0] as ServerDef }
  checkVariables(site)
  return site
}

/** Every variable the config uses must exist, as nginx checks when it loads a config. */
function checkVariables(site: StandinSite): void {
  const known = (name: string) =>
    BUILTIN.has(name) ||
    name.startsWith('http_') ||
    name.startsWith('arg_') ||
    site.maps.has(name) ||
    site.geos.has(name)
  const values: string[] = []
  const setVariables = new Set<string>()
  const collect = (steps: RewriteStep[]) => {
    for (const step of steps) {
      if (step.kind === 'return' && step.text) values.push(step.text)
      if (step.kind === 'set') {
        setVariables.add(step.variable)
        values.push(step.value)
      }
      if (step.kind === 'if') {
        values.push(`$${step.condition.variable}`)
        collect(step.steps)
      }
    }
  }
  const server = site.server
  collect(server.rewrite)
  for (const loc of [...server.locations, ...server.named.values()]) {
    collect(loc.rewrite)
    values.push(...loc.proxySetHeaders.values())
    for (const log of Array.isArray(loc.accessLogs) ? loc.accessLogs : []) {
      if (log.condition) values.push(log.condition)
      if (!site.logFormats.has(log.format) && log.format !== 'combined') {
        throw new StandinUnsupportedError(`unknown log_format "${log.format}"`)
      }
    }
  }
  for (const map of site.maps.values()) {
    values.push(
      map.source,
      map.defaultValue,
      ...map.exact.values(),
      ...map.regexes.map((r) => r.value),
    )
  }
  values.push(...site.logFormats.values())
  for (const value of values) {
    for (const m of value.matchAll(/\$(?:\{(\w+)\}|(\w+))/g)) {
      const name = m[1] ?? m[2] ?? ''
      if (!known(name) && !setVariables.has(name)) {
        throw new StandinUnsupportedError(`unknown variable "$${name}"`)
      }
    }
  }
}

/** The request facts variables are computed from. */
export interface RequestFacts {
  method: string
  /** The request target as sent. */
  target: string
  /** Normalized, decoded path (nginx's `$uri`). */
  uri: string
  headers: Readonly<Record<string, string | string[] | undefined>>
  remoteAddr: string
  protocol: string
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** Variables of one request, computed lazily as nginx does (maps are evaluated when read). */
export class RequestVariables {
  status = 0
  bodyBytesSent = 0
  readonly #site: StandinSite
  readonly #facts: RequestFacts
  readonly #startMs: number
  readonly #now: () => number
  readonly #set = new Map<string, string>()
  readonly #cache = new Map<string, string>()

  constructor(site: StandinSite, facts: RequestFacts, now: () => number) {
    this.#site = site
    this.#facts = facts
    this.#now = now
    this.#startMs = now()
  }

  set(name: string, value: string): void {
    this.#set.set(name, value)
  }

  /** Interpolates `$name` and `${name}` in a complex value. */
  expand(value: string): string {
    return value.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, a?: string, b?: string) =>
      this.get(a ?? b ?? ''),
    )
  }

  get(name: string): string {
    const explicit = this.#set.get(name)
    if (explicit !== undefined) return explicit
    const cached = this.#cache.get(name)
    if (cached !== undefined) return cached
    const value = this.#compute(name)
    // Time and status move while a request runs; everything else is fixed once read.
    if (!['msec', 'request_time', 'status', 'body_bytes_sent', 'time_local'].includes(name)) {
      this.#cache.set(name, value)
    }
    return value
  }

  #compute(name: string): string {
    const f = this.#facts
    if (name.startsWith('http_')) {
      const header = f.headers[name.slice(5).replace(/_/g, '-')]
      return Array.isArray(header) ? header.join(', ') : (header ?? '')
    }
    if (name.startsWith('arg_')) {
      const q = f.target.indexOf('?')
      return q < 0 ? '' : (new URLSearchParams(f.target.slice(q + 1)).get(name.slice(4)) ?? '')
    }
    const map = this.#site.maps.get(name)
    if (map) {
      const input = this.expand(map.source)
      const exact = map.exact.get(input.toLowerCase())
      if (exact !== undefined) return this.expand(exact)
      for (const { re, value } of map.regexes) if (re.test(input)) return this.expand(value)
      return this.expand(map.defaultValue)
    }
    const geo = this.#site.geos.get(name)
    if (geo) {
      const ip = parseIpv4(f.remoteAddr.replace(/^::ffff:/, ''))
      let best: { bits: number; value: string } | undefined
      if (ip !== undefined) {
        for (const n of geo.nets) {
          const mask = n.bits === 0 ? 0 : (~0 << (32 - n.bits)) >>> 0
          if ((ip & mask) >>> 0 === (n.base & mask) >>> 0 && (!best || n.bits > best.bits)) best = n
        }
      }
      return best ? best.value : geo.defaultValue
    }
    const now = this.#now()
    switch (name) {
      case 'uri':
        return f.uri
      case 'request_uri':
        return f.target
      case 'args': {
        const q = f.target.indexOf('?')
        return q < 0 ? '' : f.target.slice(q + 1)
      }
      case 'request_method':
        return f.method
      case 'remote_addr':
        return f.remoteAddr.replace(/^::ffff:/, '')
      case 'msec':
        return (now / 1000).toFixed(3)
      case 'request_time':
        return (Math.max(0, now - this.#startMs) / 1000).toFixed(3)
      case 'status':
        return String(this.status).padStart(3, '0')
      case 'body_bytes_sent':
        return String(this.bodyBytesSent)
      case 'request':
        return `${f.method} ${f.target} ${f.protocol}`
      case 'server_protocol':
        return f.protocol
      case 'host':
        return String(f.headers.host ?? '').split(':')[0] ?? ''
      case 'scheme':
        return 'https'
      case 'time_local': {
        const d = new Date(now)
        const p = (n: number) => String(n).padStart(2, '0')
        return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
      }
      default:
        return ''
    }
  }
}

/** Whether an `if` condition holds. */
export function conditionHolds(condition: Condition, vars: RequestVariables): boolean {
  const value = vars.get(condition.variable)
  switch (condition.kind) {
    case 'truthy':
      return value !== '' && value !== '0'
    case 'compare':
      return (value === vars.expand(condition.value)) !== condition.negate
    case 'regex':
      return condition.re.test(value) !== condition.negate
  }
}

/**
 * nginx's `$uri`: percent-decoded, `//` merged, `.` and `..` resolved. Undefined when nginx
 * would answer 400 (bad encoding, `..` above the root, not an origin-form target).
 */
export function normalizeUri(target: string): string | undefined {
  if (!target.startsWith('/')) return undefined
  const rawPath = target.split('?')[0] ?? ''
  let decoded: string
  try {
    decoded = decodeURIComponent(rawPath)
  } catch {
    return undefined
  }
  if (decoded.includes('\0')) return undefined
  const out: string[] = []
  const parts = decoded.split('/')
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string
    const last = i === parts.length - 1
    if (part === '.') {
      if (last) out.push('')
      continue
    }
    if (part === '..') {
      if (out.length === 0) return undefined
      out.pop()
      if (last) out.push('')
      continue
    }
    if (part === '' && !last) continue // merge_slashes
    out.push(part)
  }
  return `/${out.join('/')}`
}

/** nginx's choice of location for a URI: exact, then longest prefix (^~ stops), then regexes. */
export function selectLocation(server: ServerDef, uri: string): LocationDef | undefined {
  const exact = server.locations.find((l) => l.modifier === '=' && l.pattern === uri)
  if (exact) return exact
  let prefix: LocationDef | undefined
  for (const l of server.locations) {
    if ((l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.pattern)) {
      if (!prefix || l.pattern.length > prefix.pattern.length) prefix = l
    }
  }
  if (prefix?.modifier === '^~') return prefix
  const regex = server.locations.find((l) => l.regex?.test(uri))
  return regex ?? prefix
}
