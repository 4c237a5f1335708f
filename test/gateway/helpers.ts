import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { createLogger, ManualClock, type Clock, type Logger } from '../../src/shared/index.js'
import { createGateway, type CreateGatewayInput, type Gateway } from '../../src/gateway/gateway.js'
import type {
  ActivitySink,
  Backend,
  BackendState,
  EnsureReadyInput,
  KeyIdentity,
  KeyVerifier,
  Upstream,
  UsageRecord,
  UsageSink,
} from '../../src/gateway/ports.js'
import { StaticBackend } from '../../src/gateway/static-backend.js'
import { FakeOllama, type FakeOllamaOptions } from '../../src/simulator/fake-ollama.js'

export interface Stack {
  fake: FakeOllama
  backend: StaticBackend
  gateway: Gateway
  port: number
  /** `http://127.0.0.1:PORT` of the gateway. */
  url: string
  close(): Promise<void>
}

/** Fake Ollama ← StaticBackend ← gateway on 127.0.0.1:0. */
export async function startStack(
  input: Omit<CreateGatewayInput, 'backend'> & {
    fake?: FakeOllamaOptions
    backendHeaders?: Record<string, string>
  } = {},
): Promise<Stack> {
  const { fake: fakeOptions, backendHeaders, ...gatewayInput } = input
  const fake = await new FakeOllama(fakeOptions).start()
  const backend = new StaticBackend({
    url: fake.url,
    ...(backendHeaders ? { headers: backendHeaders } : {}),
  })
  const gateway = createGateway({ processMetrics: false, ...gatewayInput, backend })
  const address = await gateway.listen('127.0.0.1', 0)
  return {
    fake,
    backend,
    gateway,
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      await gateway.close({ deadlineMs: 0 })
      await backend.close()
      await fake.close()
    },
  }
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

export interface RawRequestOptions {
  port: number
  method?: string
  /** Sent exactly as given (no normalisation). */
  path: string
  headers?: Record<string, string | number>
  body?: string | Buffer
  /** Omit the default Host header. */
  noHost?: boolean
}

/** Frames a body with content-length unless the caller chose its own framing. */
function withLength(options: RawRequestOptions): Record<string, string | number> | undefined {
  const { headers, body } = options
  if (body === undefined) return headers
  const names = Object.keys(headers ?? {}).map((n) => n.toLowerCase())
  if (names.includes('content-length') || names.includes('transfer-encoding')) return headers
  return { ...headers, 'content-length': Buffer.byteLength(body) }
}

/** One HTTP/1.1 request with a raw request target and exact headers; collects the answer. */
export function rawRequest(options: RawRequestOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: options.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: withLength(options),
      setHost: !options.noHost,
      agent: false,
    })
    req.on('error', reject)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
      res.on('error', reject)
    })
    req.end(options.body)
  })
}

/** Starts a request and resolves with the response as soon as its headers arrive (body unread). */
export function openRequest(
  options: RawRequestOptions,
): Promise<{ res: IncomingMessage; abort: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: options.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: withLength(options),
      agent: false,
    })
    req.on('error', reject)
    req.on('response', (res) => resolve({ res, abort: () => req.destroy() }))
    req.end(options.body)
  })
}

/** Sends raw bytes on a fresh TCP connection and returns everything the server sent back. */
export function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
    socket.end(data)
  })
}

/** Reads lines from a response until `count` lines arrived. */
export function readLines(res: IncomingMessage, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    const lines: string[] = []
    const onData = (c: Buffer) => {
      buffer += c.toString('utf8')
      let i = buffer.indexOf('\n')
      while (i >= 0) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 1)
        if (line.trim() !== '') lines.push(line)
        if (lines.length >= count) {
          res.off('data', onData)
          return resolve(lines)
        }
        i = buffer.indexOf('\n')
      }
    }
    res.on('data', onData)
    res.on('error', reject)
    res.on('end', () => resolve(lines))
  })
}

/** Reads a response body to the end. */
export async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

/** Waits until `check()` is true, yielding to the event loop between checks (no wall-clock assertion). */
export async function until(
  check: () => boolean,
  what = 'condition',
  maxTurns = 20_000,
): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (check()) return
    await new Promise<void>((r) => setTimeout(r, i < 100 ? 0 : 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A Backend whose wake the test drives: single-flight like the real one, ready on demand. */
export class ControlledBackend implements Backend {
  current: BackendState
  upstream: Upstream
  /** How many wakes started (one per burst). */
  wakes = 0
  /** How many times the gateway called ensureReady. */
  calls = 0
  readonly inputs: EnsureReadyInput[] = []
  begins = 0
  ends = 0
  readonly activity: ActivitySink
  #pending:
    | { promise: Promise<Upstream>; resolve: (u: Upstream) => void; reject: (e: unknown) => void }
    | undefined

  constructor(upstream: Upstream, state: BackendState = 'absent') {
    this.upstream = upstream
    this.current = state
    this.activity = {
      begin: () => {
        this.begins++
        let ended = false
        return () => {
          if (ended) return
          ended = true
          this.ends++
        }
      },
    }
  }

  get inFlight(): number {
    return this.begins - this.ends
  }

  state(): BackendState {
    return this.current
  }

  ensureReady(input: EnsureReadyInput): Promise<Upstream> {
    this.calls++
    this.inputs.push(input)
    if (this.current === 'ready') return Promise.resolve(this.upstream)
    if (!this.#pending) {
      this.wakes++
      this.current = 'provisioning'
      let resolve!: (u: Upstream) => void
      let reject!: (e: unknown) => void
      const promise = new Promise<Upstream>((res, rej) => {
        resolve = res
        reject = rej
      })
      this.#pending = { promise, resolve, reject }
    }
    // Each caller stops waiting when its own signal aborts; the shared wake goes on.
    const pending = this.#pending.promise
    return new Promise<Upstream>((resolve, reject) => {
      const onAbort = () => reject(input.signal.reason)
      input.signal.addEventListener('abort', onAbort, { once: true })
      pending.then(
        (u) => {
          input.signal.removeEventListener('abort', onAbort)
          resolve(u)
        },
        (e: unknown) => {
          input.signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      )
    })
  }

  finishWake(): void {
    this.current = 'ready'
    this.#pending?.resolve(this.upstream)
    this.#pending = undefined
  }

  failWake(error: unknown): void {
    this.current = 'error'
    this.#pending?.reject(error)
    this.#pending = undefined
  }

  sleep(state: BackendState = 'stopped'): void {
    this.current = state
  }
}

/** Keys from a table: `{ key: identity }`. */
export function keyTable(table: Record<string, KeyIdentity>): KeyVerifier {
  return { verify: (key) => table[key.reveal()] }
}

export class RecordingUsage implements UsageSink {
  readonly records: UsageRecord[] = []
  record(entry: UsageRecord): void {
    this.records.push(entry)
  }
}

/** A real pino logger writing into memory (to grep for secrets). */
export function capturingLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = []
  const logger = createLogger({
    level: 'trace',
    destination: { write: (msg: string) => void chunks.push(msg) },
  })
  return { logger, text: () => chunks.join('') }
}

export { ManualClock }
export type { Clock }
