import { readFile } from 'node:fs/promises'
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http'
import { createServer, type Server } from 'node:https'
import type { Socket } from 'node:net'
import path from 'node:path'
import { listenPort, type ProxyStartInput, type VmProxy } from './proxy.js'
import {
  compileStandinSite,
  conditionHolds,
  normalizeUri,
  RequestVariables,
  selectLocation,
  type HeaderAdd,
  type LocationDef,
  type LogTarget,
  type RewriteStep,
  type StandinSite,
} from './standin-site.js'

/**
 * The Node stand-in for nginx, for machines without nginx (or `vm.proxy: 'standin'`): an
 * HTTPS server with the instance's certificate that interprets the instance's own site config
 * (see standin-site.ts): same key check, same 401/403/503 bodies, same /exollama/boot file,
 * same header rewriting towards Ollama, same access and activity logs, and streaming without
 * buffering in either direction. It speaks HTTP/1.1 only (nginx also offers h2).
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
])
/** Headers nginx does not pass from the upstream's answer (proxy_hide_header defaults). */
const HIDDEN_UPSTREAM = new Set([
  'date',
  'server',
  'x-pad',
  'x-accel-expires',
  'x-accel-redirect',
  'x-accel-limit-rate',
  'x-accel-buffering',
  'x-accel-charset',
])
const ADD_HEADER_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308])

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Authorization Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Not Allowed',
  413: 'Request Entity Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
}

/** nginx's built-in error page (with `server_tokens off`). */
function errorPage(status: number): string {
  const title = `${status} ${REASONS[status] ?? 'Error'}`
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
}

export interface StandinProxy extends VmProxy {
  readonly kind: 'standin'
  readonly site: StandinSite
}

interface Outcome {
  status: number
  body: string | Buffer
  contentType: string
  headers: HeaderAdd[]
}

/** Starts the stand-in on `<ip>:<port of the config's listen>`. */
export async function startStandinProxy(input: ProxyStartInput): Promise<StandinProxy> {
  const site = compileStandinSite(input.site.sources)
  const { server: def } = site
  const { rootfs, ip, clock, logger } = input
  const port = listenPort(def.listens[0] ?? '')
  if (port === undefined || def.listens.some((l) => listenPort(l) !== port)) {
    throw new Error(`the stand-in cannot emulate listen ${def.listens.join(', ')}`)
  }
  const cert = input.tlsOverride?.certPem ?? (await readFile(rootfs.hostPath(def.certPath), 'utf8'))
  const key = input.tlsOverride?.keyPem ?? (await readFile(rootfs.hostPath(def.keyPath), 'utf8'))

  const logQueues = new Map<string, Promise<void>>()
  const appendLog = (vmPath: string, line: string) => {
    const previous = logQueues.get(vmPath) ?? Promise.resolve()
    const next = previous
      .then(() => rootfs.append(vmPath, line))
      .catch((error: unknown) =>
        logger.warn({ err: error, vmPath }, 'stand-in could not write a log'),
      )
    logQueues.set(vmPath, next)
  }

  const upstreamFor = (host: string, upstreamPort: number) =>
    upstreamPort === input.vmOllamaPort && (host === '127.0.0.1' || host === 'localhost')
      ? { host: '127.0.0.1', port: input.ollamaPort }
      : { host, port: upstreamPort }

  /** Runs rewrite steps; a return ends them with an outcome. */
  const rewrite = (
    steps: RewriteStep[],
    vars: RequestVariables,
    defaultType: string,
  ): Outcome | undefined => {
    for (const step of steps) {
      if (step.kind === 'set') vars.set(step.variable, vars.expand(step.value))
      else if (step.kind === 'return') {
        const text = step.text === undefined ? undefined : vars.expand(step.text)
        return text === undefined
          ? { status: step.code, body: errorPage(step.code), contentType: 'text/html', headers: [] }
          : { status: step.code, body: text, contentType: defaultType, headers: [] }
      } else if (conditionHolds(step.condition, vars)) {
        const outcome = rewrite(step.steps, vars, defaultType)
        if (outcome) return outcome
      }
    }
    return undefined
  }

  const typeOf = (loc: LocationDef | undefined) =>
    loc?.defaultType ?? def.defaultType ?? 'application/octet-stream'
  const addHeadersOf = (loc: LocationDef | undefined) => loc?.addHeaders ?? def.addHeaders ?? []
  const logsOf = (loc: LocationDef | undefined): LogTarget[] => {
    const logs = loc?.accessLogs ?? def.accessLogs
    return Array.isArray(logs) ? logs : []
  }

  const send = (res: ServerResponse, vars: RequestVariables, outcome: Outcome, head: boolean) => {
    const headers: OutgoingHttpHeaders = {
      server: 'nginx',
      'content-type': outcome.contentType,
      'content-length': Buffer.byteLength(outcome.body),
    }
    for (const h of outcome.headers) {
      if (h.always || ADD_HEADER_STATUSES.has(outcome.status))
        headers[h.name.toLowerCase()] = vars.expand(h.value)
    }
    vars.status = outcome.status
    vars.bodyBytesSent = head ? 0 : Buffer.byteLength(outcome.body)
    res.writeHead(outcome.status, headers)
    res.end(head ? undefined : outcome.body)
  }

  /** A location's answer without proxying (rewrite, then alias), error_page applied. */
  const localOutcome = async (
    loc: LocationDef,
    vars: RequestVariables,
    redirected: boolean,
  ): Promise<Outcome | 'proxy'> => {
    const type = typeOf(loc)
    const rewritten = rewrite(loc.rewrite, vars, type)
    let outcome: Outcome | undefined = rewritten
      ? { ...rewritten, headers: addHeadersOf(loc) }
      : undefined
    if (!outcome && loc.alias !== undefined) {
      const file = await readFile(rootfs.hostPath(loc.alias)).catch(() => undefined)
      const ext = path.extname(loc.alias)
      const contentType = loc.emptyTypes
        ? type
        : ext === '.json'
          ? 'application/json'
          : ext === '.html'
            ? 'text/html'
            : type
      outcome = file
        ? { status: 200, body: file, contentType, headers: addHeadersOf(loc) }
        : {
            status: 404,
            body: errorPage(404),
            contentType: 'text/html',
            headers: addHeadersOf(loc),
          }
    }
    if (!outcome) {
      if (loc.proxyPass) return 'proxy'
      outcome = {
        status: 404,
        body: errorPage(404),
        contentType: 'text/html',
        headers: addHeadersOf(loc),
      }
    }
    const page = redirected
      ? undefined
      : (loc.errorPages.get(outcome.status) ?? def.errorPages.get(outcome.status))
    if (page) {
      const named = page.target.startsWith('@') ? def.named.get(page.target) : undefined
      if (!named) throw new Error(`error_page target ${page.target} is not a named location`)
      const target = await localOutcome(named, vars, true)
      if (target === 'proxy') throw new Error('error_page to a proxying location is not supported')
      if (page.override === undefined) return { ...target, status: outcome.status }
      if (typeof page.override === 'number') return { ...target, status: page.override }
      return target
    }
    return outcome
  }

  const proxy = (
    req: IncomingMessage,
    res: ServerResponse,
    loc: LocationDef,
    vars: RequestVariables,
  ) => {
    const pass = loc.proxyPass
    if (!pass) throw new Error('no proxy_pass')
    const upstream = upstreamFor(pass.host, pass.port)
    const headers: OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
      // nginx drops header names with underscores (ignore_invalid_headers) and hop-by-hop ones.
      if (value === undefined || HOP_BY_HOP.has(name) || name.includes('_') || name === 'host')
        continue
      headers[name] = value
    }
    const set = new Map<string, string>([
      ['host', `${pass.host}:${pass.port}`],
      ['connection', 'close'],
    ])
    for (const [name, value] of loc.proxySetHeaders) set.set(name, value)
    for (const [name, value] of set) {
      const expanded = vars.expand(value)
      if (expanded === '') delete headers[name]
      else headers[name] = expanded
    }
    const upstreamReq = httpRequest({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      // One connection per request, as nginx without upstream keepalive: an open connection
      // to Ollama is a request in flight (the watchdog counts them).
      agent: false,
    })
    let answered = false
    upstreamReq.on('response', (upstreamRes) => {
      answered = true
      const out: OutgoingHttpHeaders = { server: 'nginx' }
      for (const [name, value] of Object.entries(upstreamRes.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name) || HIDDEN_UPSTREAM.has(name)) continue
        out[name] = value
      }
      vars.status = upstreamRes.statusCode ?? 502
      res.writeHead(vars.status, out)
      res.flushHeaders()
      upstreamRes.on('data', (chunk: Buffer) => {
        vars.bodyBytesSent += chunk.length
        // Every chunk goes out as it arrives (proxy_buffering off); backpressure pauses Ollama.
        if (!res.write(chunk)) {
          upstreamRes.pause()
          res.once('drain', () => upstreamRes.resume())
        }
      })
      upstreamRes.on('end', () => res.end())
      upstreamRes.on('error', () => res.destroy())
      upstreamRes.on('aborted', () => res.destroy())
    })
    upstreamReq.on('error', (error) => {
      if (answered || res.headersSent) {
        res.destroy()
        return
      }
      logger.debug({ err: error }, 'stand-in upstream failed')
      send(
        res,
        vars,
        { status: 502, body: errorPage(502), contentType: 'text/html', headers: [] },
        req.method === 'HEAD',
      )
    })
    // A client that goes away takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy()
    })
    // proxy_request_buffering off: the body streams to Ollama as it arrives.
    req.pipe(upstreamReq)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/'
    const uri = normalizeUri(target)
    const vars = new RequestVariables(
      site,
      {
        method: req.method ?? 'GET',
        target,
        uri: uri ?? target,
        headers: req.headers,
        remoteAddr: req.socket.remoteAddress ?? '',
        protocol: `HTTP/${req.httpVersion}`,
      },
      () => clock.now(),
    )
    // The location chosen below; its access logs are written when the request ends.
    const chosen: { loc?: LocationDef | undefined } = {}
    res.on('close', () => {
      if (!res.headersSent) vars.status = 499 // the client left before an answer
      for (const log of logsOf(chosen.loc)) {
        if (log.condition !== undefined) {
          const value = vars.expand(log.condition)
          if (value === '' || value === '0') continue
        }
        const format =
          site.logFormats.get(log.format) ??
          '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent'
        appendLog(log.path, `${vars.expand(format)}\n`)
      }
    })
    const head = req.method === 'HEAD'
    if (uri === undefined) {
      send(
        res,
        vars,
        { status: 400, body: errorPage(400), contentType: 'text/html', headers: [] },
        head,
      )
      return
    }
    const serverLevel = rewrite(def.rewrite, vars, def.defaultType ?? 'application/octet-stream')
    if (serverLevel) {
      send(res, vars, { ...serverLevel, headers: def.addHeaders ?? [] }, head)
      return
    }
    const loc = selectLocation(def, uri)
    chosen.loc = loc
    if (!loc) {
      send(
        res,
        vars,
        { status: 404, body: errorPage(404), contentType: 'text/html', headers: [] },
        head,
      )
      return
    }
    const limit = loc.clientMaxBodySize ?? def.clientMaxBodySize ?? 1024 * 1024
    const length = Number(req.headers['content-length'] ?? 0)
    if (limit > 0 && length > limit) {
      send(
        res,
        vars,
        { status: 413, body: errorPage(413), contentType: 'text/html', headers: [] },
        head,
      )
      return
    }
    const outcome = await localOutcome(loc, vars, false)
    if (outcome === 'proxy') proxy(req, res, loc, vars)
    else {
      req.resume()
      send(res, vars, outcome, head)
    }
  }

  const sockets = new Set<Socket>()
  const server: Server = createServer(
    {
      cert,
      key,
      ...(def.minVersion ? { minVersion: def.minVersion } : {}),
      ALPNProtocols: ['http/1.1'],
    },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        logger.error({ err: error }, 'stand-in failed')
        if (!res.headersSent) {
          res.writeHead(500, { server: 'nginx', 'content-type': 'text/html' })
          res.end(errorPage(500))
        } else res.destroy()
      })
    },
  )
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true)
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('tlsClientError', () => undefined)
  server.keepAliveTimeout = 75_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, ip, () => {
      server.off('error', reject)
      resolve()
    })
  })
  logger.debug({ ip, port }, 'stand-in listening')

  return {
    kind: 'standin',
    site,
    pid: undefined,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      server.closeAllConnections()
      await closed
      await Promise.all(logQueues.values())
    },
  }
}
