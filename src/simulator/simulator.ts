import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { systemClock, silentLogger, type Clock, type Logger } from '../shared/index.js'
import { ApiError, badRequest } from './api-error.js'
import { FaultRegistry, type FaultSubject } from './faults.js'
import { ROUTES } from './routes.js'
import { DEFAULT_MAX_EXPIRES_AHEAD_SECONDS, verifySignature } from './signature.js'
import { ExoscaleSpec, type SpecOperation } from './spec.js'
import {
  DEFAULT_ZONE,
  isZoneName,
  type InstanceEvent,
  type InstanceView,
  type OperationView,
  type QuotaView,
  type SecurityGroupView,
  type SimulatorCredentials,
  type ZoneName,
} from './types.js'
import { World, instanceView } from './world.js'
import { VmManager, type VmController, type VmOptions } from './vm/index.js'

/** Options of createSimulator / startSimulator. */
export interface SimulatorOptions {
  /** Listen address (startSimulator only). Default 127.0.0.1. */
  host?: string
  /** Listen port (startSimulator only). Default 0: a free port. */
  port?: number
  /** Accepted API keys. Default: one generated key (starts with EXO). */
  credentials?: SimulatorCredentials[]
  /** Time from a mutation to the end of its operation. Default 250 ms. */
  operationDelayMs?: number
  /** Time from the end of an operation to the instance's next state. Default 750 ms. */
  instanceTransitionMs?: number
  /** How far ahead `expires` may be. Default 3600 s. */
  maxExpiresAheadSeconds?: number
  /** Validate every 200 answer against the spec and answer 500 when invalid. Default true. */
  selfCheck?: boolean
  /** Largest accepted request body. Default 1 MiB. */
  maxBodyBytes?: number
  /** How many requests `requests` keeps (oldest dropped first). Default 10000. */
  maxRecordedRequests?: number
  /** How long a finished operation can still be read. Default 1 h. */
  operationRetentionMs?: number
  /**
   * The emulated VMs: when an instance reaches `running`, its user-data is applied (real nginx
   * or the Node stand-in on `<public ip>:11435`, a fake Ollama, the boot status walked over
   * time). Default enabled; see VmOptions.
   */
  vm?: VmOptions
  clock?: Clock
  logger?: Logger
}

/** One received request, as the simulator saw it. */
export interface RecordedRequest {
  method: string
  /** The API path below /v2 without the zone prefix, e.g. `/instance/…:start`. */
  path: string
  /** The path exactly as received, e.g. `/ch-gva-2/v2/instance`. */
  rawPath: string
  /** Decoded query args; repeated names give arrays. */
  query: Record<string, string | string[]>
  /** The body as received ('' when none). */
  body: string
  contentType: string | undefined
  /** HTTP status answered; 0 when the connection was reset instead. */
  status: number
  /** Whether the request carried a valid signature. */
  signed: boolean
  /** The zone the request addressed; undefined when the path named no known zone. */
  zone: ZoneName | undefined
  /** The spec's operation id, when the path and method matched one. */
  operationId: string | undefined
  /** The injected fault that shaped the answer, if any. */
  fault: string | undefined
  /** Server clock at receipt (ms). */
  at: number
}

/** Read-only views of the simulated organisation. */
export interface SimulatorState {
  instances(zone?: ZoneName): InstanceView[]
  instance(id: string): InstanceView | undefined
  securityGroups(): SecurityGroupView[]
  operations(zone?: ZoneName): OperationView[]
  quotas(): QuotaView[]
}

/** A simulator without its own HTTP server: mount `handle` where you like. */
export interface SimulatorCore {
  readonly credentials: SimulatorCredentials
  readonly allCredentials: readonly SimulatorCredentials[]
  readonly faults: FaultRegistry
  readonly state: SimulatorState
  /** Every request received so far, oldest first. */
  readonly requests: readonly RecordedRequest[]
  clearRequests(): void
  /** Subscribes to instance lifecycle events; returns the unsubscribe function. */
  onInstanceEvent(listener: (event: InstanceEvent) => void): () => void
  /** Emulates a power-off from inside the VM (running → stopped, no API call). */
  powerOff(instanceId: string): boolean
  /** The emulated VMs behind the instances (per-instance info, events, faults). */
  readonly vm: VmController
  /** The node:http request listener. */
  handle(req: IncomingMessage, res: ServerResponse): void
  /** Stops every emulated VM (nginx included, disks removed) and cancels pending timers. */
  close(): Promise<void>
}

/** A running simulator (startSimulator). */
export interface Simulator extends SimulatorCore {
  /** `http://127.0.0.1:<port>/v2`: the default zone (ch-gva-2). */
  readonly endpoint: string
  /** `http://127.0.0.1:<port>/<zone>/v2`. */
  endpointFor(zone: ZoneName): string
  readonly port: number
  /** Stops the server (open connections are cut) and all timers. */
  close(): Promise<void>
}

const JSON_TYPE = 'application/json'

function generateCredentials(): SimulatorCredentials {
  return {
    key: `EXO${randomBytes(12).toString('hex')}`,
    secret: randomBytes(32).toString('base64url').slice(0, 43),
  }
}

interface Reply {
  status: number
  body: string | undefined
  contentType?: string
  headers?: Record<string, string>
}

function jsonReply(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return {
    status,
    body: JSON.stringify(value),
    contentType: JSON_TYPE,
    ...(headers ? { headers } : {}),
  }
}

function messageReply(status: number, message: string, headers?: Record<string, string>): Reply {
  return jsonReply(status, { message }, headers)
}

function resetSocket(socket: Socket | null): void {
  if (!socket) return
  // RST rather than FIN, so the client sees ECONNRESET like a dropped connection.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

/** Splits `/v2/...` or `/<zone>/v2/...` into the zone and the API path. */
function splitPath(rawPath: string): { zone: ZoneName; apiPath: string } | { zone: undefined } {
  const m = /^(?:\/([a-z0-9-]+))?\/v2(\/.*)$/.exec(rawPath)
  if (!m?.[2]) return { zone: undefined }
  if (m[1] === undefined) return { zone: DEFAULT_ZONE, apiPath: m[2] }
  return isZoneName(m[1]) ? { zone: m[1], apiPath: m[2] } : { zone: undefined }
}

function typedQueryValue(schema: unknown, value: string): unknown {
  const type = (schema as { type?: unknown }).type
  if (type === 'integer' || type === 'number')
    return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value
  return value
}

/** Creates the simulator core (state, faults, request handling) without listening. */
export function createSimulator(options: SimulatorOptions = {}): SimulatorCore {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const credentials = options.credentials?.length
    ? [...options.credentials]
    : [generateCredentials()]
  const secrets = new Map(credentials.map((c) => [c.key, c.secret]))
  const spec = ExoscaleSpec.load()
  const faults = new FaultRegistry()
  const world = new World({
    clock,
    logger,
    faults,
    operationDelayMs: options.operationDelayMs ?? 250,
    instanceTransitionMs: options.instanceTransitionMs ?? 750,
    operationRetentionMs: options.operationRetentionMs ?? 3_600_000,
  })
  const vm = new VmManager({
    clock,
    logger: logger.child({ component: 'simulator-vm' }),
    options: options.vm,
    subscribe: (listener) => world.onInstanceEvent(listener),
    powerOff: (id) => world.powerOff(id),
  })
  const maxRecorded = options.maxRecordedRequests ?? 10_000
  const selfCheck = options.selfCheck ?? true
  const maxBody = options.maxBodyBytes ?? 1024 * 1024
  const requests: RecordedRequest[] = []

  function validateRequest(
    operation: SpecOperation,
    rawPathParams: Record<string, string>,
    rawQuery: string,
    body: Buffer,
    contentType: string | undefined,
  ): { pathParams: Record<string, string>; query: Record<string, unknown>; json: unknown } {
    const pathParams: Record<string, string> = {}
    for (const param of operation.parameters.filter((p) => p.in === 'path')) {
      let value: string
      try {
        value = decodeURIComponent(rawPathParams[param.name] ?? '')
      } catch {
        throw badRequest(`invalid path parameter ${param.name}: bad percent-encoding`)
      }
      const problem = spec.validateParameter(operation.operationId, param, value)
      if (problem) throw badRequest(problem)
      pathParams[param.name] = value
    }

    const declared = new Map(
      operation.parameters.filter((p) => p.in === 'query').map((p) => [p.name, p]),
    )
    const query: Record<string, unknown> = {}
    for (const [name, value] of new URLSearchParams(rawQuery)) {
      const param = declared.get(name)
      if (!param) throw badRequest(`unknown query parameter "${name}" for ${operation.operationId}`)
      if (name in query) throw badRequest(`query parameter "${name}" given more than once`)
      const typed = typedQueryValue(param.schema, value)
      const problem = spec.validateParameter(operation.operationId, param, typed)
      if (problem) throw badRequest(problem)
      query[name] = typed
    }
    for (const param of declared.values()) {
      if (param.required && !(param.name in query)) {
        throw badRequest(`missing required query parameter "${param.name}"`)
      }
    }

    const hasBody = body.length > 0
    const bodySpec = operation.requestBody
    if (!bodySpec) {
      if (hasBody) throw badRequest(`unexpected request body: ${operation.operationId} takes none`)
      return { pathParams, query, json: undefined }
    }
    if (!hasBody) {
      if (bodySpec.required) {
        throw badRequest(`missing request body: ${operation.operationId} requires a JSON body`)
      }
      return { pathParams, query, json: undefined }
    }
    const mediaType = contentType?.split(';')[0]?.trim().toLowerCase()
    if (mediaType !== JSON_TYPE) {
      throw badRequest(
        `invalid Content-Type "${contentType ?? ''}": the body must be sent as ${JSON_TYPE}`,
      )
    }
    let json: unknown
    try {
      json = JSON.parse(body.toString('utf8'))
    } catch {
      throw badRequest('invalid body: not valid JSON')
    }
    const problem = spec.validateRequestBody(operation.operationId, json)
    if (problem) throw badRequest(problem)
    return { pathParams, query, json }
  }

  function processRequest(
    req: IncomingMessage,
    body: Buffer,
    entry: RecordedRequest,
    rawQuery: string,
  ): Reply | 'reset' {
    const method = entry.method
    const split = splitPath(entry.rawPath)
    if (split.zone === undefined) return messageReply(404, `No such endpoint: ${entry.rawPath}`)
    const { zone, apiPath } = split
    entry.zone = zone
    entry.path = apiPath
    const route = spec.match(method, apiPath)
    const operation = route.kind === 'found' ? route.operation : undefined
    entry.operationId = operation?.operationId
    const subject: FaultSubject = {
      method,
      path: apiPath,
      operationId: operation?.operationId,
      zone,
    }

    const fault = faults.takeRequestFault(subject)
    let after: 'lost-response' | 'reset' | undefined
    let lostStatus = 502
    if (fault) {
      entry.fault = fault.kind
      if (fault.kind === 'rate-limit') {
        const retryAfter = String(fault.retryAfter ?? 1)
        return messageReply(429, 'Too many requests, retry later', { 'retry-after': retryAfter })
      }
      if (fault.kind === 'server-error') {
        const status = fault.status ?? 503
        const headers =
          fault.retryAfter === undefined ? undefined : { 'retry-after': String(fault.retryAfter) }
        if (fault.body === 'text') {
          return {
            status,
            body: 'service unavailable',
            contentType: 'text/plain',
            ...(headers ? { headers } : {}),
          }
        }
        if (fault.body === 'empty')
          return { status, body: undefined, ...(headers ? { headers } : {}) }
        if (fault.body === 'problem') {
          return {
            status,
            body: JSON.stringify({
              type: 'about:blank',
              title: 'Service Unavailable',
              status,
              detail: 'The service is temporarily unavailable',
            }),
            contentType: 'application/problem+json',
            ...(headers ? { headers } : {}),
          }
        }
        return messageReply(status, 'Internal server error', headers)
      }
      if (fault.kind === 'connection-reset') {
        if ((fault.when ?? 'before') === 'before') return 'reset'
        after = 'reset'
      }
      if (fault.kind === 'lost-response') {
        after = 'lost-response'
        lostStatus = fault.status ?? 502
      }
    }

    const unsignedAllowed = method === 'GET' && apiPath === '/zone'
    const authorization = req.headers.authorization
    if (!(unsignedAllowed && authorization === undefined)) {
      const check = verifySignature({
        method,
        rawPath: entry.rawPath,
        rawQuery,
        body,
        authorization,
        nowMs: clock.now(),
        secretFor: (key) => secrets.get(key),
        maxExpiresAheadSeconds: options.maxExpiresAheadSeconds ?? DEFAULT_MAX_EXPIRES_AHEAD_SECONDS,
      })
      if (!check.ok) {
        logger.debug(
          { failure: check.failure, detail: check.detail },
          'simulator rejected a signature',
        )
        const message =
          check.failure === 'expired'
            ? 'Invalid request signature: the request has expired'
            : 'Invalid request signature'
        return messageReply(403, message)
      }
      entry.signed = true
    }

    if (route.kind === 'not-found')
      return messageReply(404, `No such endpoint: ${method} ${apiPath}`)
    if (route.kind === 'method-not-allowed') {
      return messageReply(405, `Method ${method} is not allowed on ${apiPath}`)
    }
    const { operation: op } = route
    const handler = ROUTES[op.operationId]
    if (!handler) return messageReply(501, `${op.operationId} is not implemented by the simulator`)

    let reply: Reply
    try {
      const input = validateRequest(
        op,
        route.pathParams,
        rawQuery,
        body,
        req.headers['content-type'],
      )
      const result = handler({
        world,
        zone,
        pathParams: input.pathParams,
        query: input.query,
        body: input.json,
        subject,
      })
      if (selfCheck) {
        const problem = spec.validateResponse(op.operationId, result)
        if (problem) {
          logger.error({ operationId: op.operationId, problem }, 'simulator answered off-spec')
          return messageReply(
            500,
            `simulator bug: ${op.operationId} answer is off-spec: ${problem}`,
          )
        }
      }
      reply = jsonReply(200, result)
    } catch (error) {
      if (error instanceof ApiError) reply = messageReply(error.status, error.message)
      else {
        logger.error({ err: error, operationId: op.operationId }, 'simulator handler failed')
        reply = messageReply(500, 'Internal server error')
      }
    }
    if (after === 'reset') return 'reset'
    if (after === 'lost-response') return messageReply(lostStatus, 'Bad gateway')
    return reply
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q < 0 ? url : url.slice(0, q)
    const rawQuery = q < 0 ? '' : url.slice(q + 1)
    const query: Record<string, string | string[]> = {}
    for (const [name, value] of new URLSearchParams(rawQuery)) {
      const prev = query[name]
      query[name] =
        prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
    }
    const entry: RecordedRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: rawPath,
      rawPath,
      query,
      body: '',
      contentType: req.headers['content-type'],
      status: 0,
      signed: false,
      zone: undefined,
      operationId: undefined,
      fault: undefined,
      at: clock.now(),
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBody) tooLarge = true
      else chunks.push(chunk)
    })
    req.on('error', () => undefined)
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      entry.body = body.toString('utf8')
      let reply: Reply | 'reset'
      if (tooLarge) reply = messageReply(413, `Request body larger than ${maxBody} bytes`)
      else {
        try {
          reply = processRequest(req, body, entry, rawQuery)
        } catch (error) {
          logger.error({ err: error }, 'simulator failed')
          reply = messageReply(500, 'Internal server error')
        }
      }
      requests.push(entry)
      if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded)
      if (reply === 'reset') {
        entry.status = 0
        resetSocket(req.socket)
        return
      }
      entry.status = reply.status
      logger.debug(
        { method: entry.method, path: entry.rawPath, status: reply.status },
        'simulator request',
      )
      const headers: Record<string, string> = { ...(reply.headers ?? {}) }
      if (reply.contentType) headers['content-type'] = reply.contentType
      if (reply.body !== undefined)
        headers['content-length'] = String(Buffer.byteLength(reply.body))
      res.writeHead(reply.status, headers)
      res.end(reply.body)
    })
  }

  const state: SimulatorState = {
    instances: (zone) => world.instances(zone).map(instanceView),
    instance: (id) => {
      const record = world.instances().find((r) => r.id === id)
      return record ? instanceView(record) : undefined
    },
    securityGroups: () => world.securityGroupViews(),
    operations: (zone) => world.operationViews(zone),
    quotas: () => world.quotas(),
  }

  return {
    credentials: credentials[0] as SimulatorCredentials,
    allCredentials: credentials,
    faults,
    state,
    get requests() {
      return requests
    },
    clearRequests: () => {
      requests.length = 0
    },
    onInstanceEvent: (listener) => world.onInstanceEvent(listener),
    powerOff: (id) => world.powerOff(id),
    vm,
    handle,
    close: async () => {
      world.close()
      await vm.close()
    },
  }
}

/**
 * The simulator as a node:http request listener plus its controls, for mounting inside another
 * server (e.g. the CLI's `--simulate`). Same as createSimulator.
 */
export const createSimulatorHandler = createSimulator

/** Starts the simulator on a real HTTP server (default 127.0.0.1, a free port). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const core = createSimulator(options)
  const server: Server = createServer((req, res) => core.handle(req, res))
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closed: Promise<void> | undefined
  return {
    ...core,
    get requests() {
      return core.requests
    },
    endpoint: `${origin}/v2`,
    endpointFor: (zone) => `${origin}/${zone}/v2`,
    port,
    close: () => {
      closed ??= (async () => {
        await core.close()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
      })()
      return closed
    },
  }
}
