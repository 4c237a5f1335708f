import { EventEmitter } from 'node:events'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { systemClock, type Clock } from '../shared/index.js'

/**
 * A fake Ollama server speaking the real wire formats (Ollama's `/api/*` NDJSON and JSON, the
 * OpenAI-compatible `/v1/*` SSE and JSON), deterministic, dependency-free (node:http only), with
 * knobs for failures and timing and a record of what it received. Used by the gateway's tests
 * and, later, by the simulator's emulated VM behind nginx.
 */

export interface FakeModel {
  name: string
  family: string
  parameterSize: string
  quantization: string
  size: number
}

export interface FakeOllamaBehavior {
  /** Tokens per answer (stream chunks before the final one); `num_predict`/`max_tokens` lower it. */
  chunks: number
  /** Pause between stream chunks (ms, on the fake's clock). */
  chunkDelayMs: number
  /** Pad every token to at least this many bytes (to make large, fast streams). */
  tokenBytes: number
  /** Wait this long before sending headers; `Infinity` = never answer (until the client leaves). */
  hangBeforeHeadersMs: number
  /** Fail before headers: `'reset'` destroys the connection, a number answers that status with Ollama's error body. */
  failBeforeHeaders: 'reset' | number | undefined
  /** Destroy the connection after this many stream chunks (a mid-stream failure). */
  failAfterChunks: number | undefined
  /** Write bodies in slices of `sliceBytes` with `delayMs` between them. */
  slowBody: { sliceBytes: number; delayMs: number } | undefined
  /** Unknown model names get Ollama's 404 (default: any name answers, as the simulator needs). */
  strictModels: boolean
  /** The version `/api/version` reports. */
  version: string
}

export interface FakeRequestRecord {
  seq: number
  method: string
  /** The raw request target, exactly as received. */
  url: string
  headers: IncomingHttpHeaders
  body: string
  /** The whole request body arrived (false when the sender cut it off). */
  bodyComplete: boolean
  /** The connection closed before the response finished (the caller aborted). */
  aborted: boolean
  /** Response bytes handed to the socket. */
  bytesWritten: number
  /** Writes that returned false (the fake saw backpressure and waited for drain). */
  blockedWrites: number
  /** The response finished normally. */
  finished: boolean
}

export interface FakeOllamaOptions {
  clock?: Clock
  host?: string
  port?: number
  models?: FakeModel[]
  behavior?: Partial<FakeOllamaBehavior>
}

export const DEFAULT_FAKE_MODELS: readonly FakeModel[] = [
  {
    name: 'qwen2.5:0.5b',
    family: 'qwen2',
    parameterSize: '494.03M',
    quantization: 'Q4_K_M',
    size: 397821319,
  },
  {
    name: 'llama3.2:1b',
    family: 'llama',
    parameterSize: '1.2B',
    quantization: 'Q8_0',
    size: 1321098329,
  },
  {
    name: 'nomic-embed-text:latest',
    family: 'nomic-bert',
    parameterSize: '137M',
    quantization: 'F16',
    size: 274302450,
  },
]

const DEFAULT_BEHAVIOR: FakeOllamaBehavior = {
  chunks: 5,
  chunkDelayMs: 0,
  tokenBytes: 0,
  hangBeforeHeadersMs: 0,
  failBeforeHeaders: undefined,
  failAfterChunks: undefined,
  slowBody: undefined,
  strictModels: false,
  version: '0.12.6',
}

const WORDS = [
  'The',
  ' sky',
  ' is',
  ' blue',
  ' because',
  ' of',
  ' Rayleigh',
  ' scattering',
  ' of',
  ' sunlight',
  ' in',
  ' the',
  ' air',
  '.',
]
const EMBED_DIMS = 8
const NDJSON = 'application/x-ndjson'
const JSON_TYPE = 'application/json; charset=utf-8'
const SSE = 'text/event-stream'

class Gone extends Error {}

/** FNV-1a: a small deterministic hash for content and embeddings. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

function digestOf(name: string): string {
  let out = ''
  for (let i = 0; out.length < 64; i++) out += hash(`${name}#${i}`).toString(16).padStart(8, '0')
  return out.slice(0, 64)
}

function embedding(text: string): number[] {
  const v = Array.from(
    { length: EMBED_DIMS },
    (_, i) => ((hash(`${text}|${i}`) % 2000) - 1000) / 1000,
  )
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6)
}

function countWords(text: string): number {
  return Math.max(1, text.split(/\s+/).filter(Boolean).length)
}

type Json = Record<string, unknown>

interface Tokens extends Iterable<string> {
  length: number
  join(): string
}

export class FakeOllama {
  readonly events = new EventEmitter()
  readonly requests: FakeRequestRecord[] = []
  readonly #clock: Clock
  readonly #host: string
  readonly #port: number
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #loaded = new Map<string, number>()
  readonly #initialModels: readonly FakeModel[]
  readonly #initialBehavior: FakeOllamaBehavior
  #models: FakeModel[]
  #behavior: FakeOllamaBehavior
  #address: AddressInfo | undefined

  constructor(options: FakeOllamaOptions = {}) {
    this.#clock = options.clock ?? systemClock
    this.#host = options.host ?? '127.0.0.1'
    this.#port = options.port ?? 0
    this.#initialModels = options.models ?? DEFAULT_FAKE_MODELS
    this.#models = [...this.#initialModels]
    this.#initialBehavior = { ...DEFAULT_BEHAVIOR, ...options.behavior }
    this.#behavior = { ...this.#initialBehavior }
    this.#server = createServer((req, res) => void this.#handle(req, res))
    this.#server.keepAliveTimeout = 30_000
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
    })
  }

  /** Starts listening (127.0.0.1, port 0 by default). */
  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#port, this.#host, () => resolve())
    })
    this.#address = this.#server.address() as AddressInfo
    return this
  }

  get port(): number {
    if (!this.#address) throw new Error('the fake Ollama is not listening; call start() first')
    return this.#address.port
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return `http://${this.#host}:${this.port}`
  }

  get behavior(): Readonly<FakeOllamaBehavior> {
    return this.#behavior
  }

  /** Changes knobs for the following requests. */
  set(behavior: Partial<FakeOllamaBehavior>): void {
    this.#behavior = { ...this.#behavior, ...behavior }
  }

  /** Restores the initial knobs and models; forgets recorded requests and loaded models. */
  reset(): void {
    this.#behavior = { ...this.#initialBehavior }
    this.#models = [...this.#initialModels]
    this.requests.length = 0
    this.#loaded.clear()
  }

  /** Open TCP connections (to check that aborted streams do not leak sockets). */
  get openConnections(): number {
    return this.#sockets.size
  }

  /** Resolves with the next request record that gets aborted (or one already aborted). */
  nextAbort(predicate: (r: FakeRequestRecord) => boolean = () => true): Promise<FakeRequestRecord> {
    const already = this.requests.find((r) => r.aborted && predicate(r))
    if (already) return Promise.resolve(already)
    return new Promise((resolve) => {
      const on = (r: FakeRequestRecord) => {
        if (!predicate(r)) return
        this.events.off('abort', on)
        resolve(r)
      }
      this.events.on('abort', on)
    })
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    this.#server.closeAllConnections()
    await closed
  }

  // ---- request handling --------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: FakeRequestRecord = {
      seq: this.requests.length + 1,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: { ...req.headers },
      body: '',
      bodyComplete: false,
      aborted: false,
      bytesWritten: 0,
      blockedWrites: 0,
      finished: false,
    }
    this.requests.push(record)
    this.events.emit('request', record)
    res.on('close', () => {
      if (res.writableFinished) return
      record.aborted = true
      this.events.emit('abort', record)
    })
    res.on('finish', () => {
      record.finished = true
      this.events.emit('done', record)
    })
    try {
      record.body = await this.#readBody(req)
      record.bodyComplete = true
    } catch {
      return
    }
    const b = this.#behavior
    try {
      if (b.hangBeforeHeadersMs === Infinity) return
      if (b.hangBeforeHeadersMs > 0) await this.#sleep(b.hangBeforeHeadersMs, res)
      if (b.failBeforeHeaders === 'reset') {
        res.destroy()
        return
      }
      if (typeof b.failBeforeHeaders === 'number') {
        return this.#json(res, record, b.failBeforeHeaders, { error: 'fake upstream failure' })
      }
      await this.#route(req, res, record)
    } catch (error) {
      if (error instanceof Gone) return
      if (!res.headersSent) this.#json(res, record, 500, { error: String(error) })
      else res.destroy()
    }
  }

  #readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      req.on('error', reject)
      req.on('aborted', () => reject(new Gone()))
      req.on('close', () => {
        if (!req.complete) reject(new Gone())
      })
    })
  }

  async #route(
    req: IncomingMessage,
    res: ServerResponse,
    record: FakeRequestRecord,
  ): Promise<void> {
    const method = req.method ?? 'GET'
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const get = method === 'GET' || method === 'HEAD'
    if (path === '/' && get)
      return this.#send(res, record, 200, 'text/plain; charset=utf-8', 'Ollama is running')
    if (path === '/api/version' && get)
      return this.#json(res, record, 200, { version: this.#behavior.version })
    if (path === '/api/tags' && get)
      return this.#json(res, record, 200, { models: this.#models.map((m) => this.#tag(m)) })
    if (path === '/api/ps' && method === 'GET')
      return this.#json(res, record, 200, { models: this.#ps() })
    if (path === '/v1/models' && method === 'GET') {
      return this.#json(res, record, 200, {
        object: 'list',
        data: this.#models.map((m) => this.#openAiModel(m.name)),
      })
    }
    if (path.startsWith('/v1/models/') && method === 'GET') {
      const name = decodeURIComponent(path.slice('/v1/models/'.length))
      if (this.#behavior.strictModels && !this.#known(name)) {
        return this.#openAiError(res, record, 404, `model "${name}" not found`)
      }
      return this.#json(res, record, 200, this.#openAiModel(name))
    }
    const routes: Record<string, (body: Json) => Promise<void>> = {
      '/api/generate': (body) => this.#generate(res, record, body, 'generate'),
      '/api/chat': (body) => this.#generate(res, record, body, 'chat'),
      '/api/embed': (body) => this.#embed(res, record, body),
      '/api/embeddings': (body) => this.#embeddings(res, record, body),
      '/api/show': (body) => this.#show(res, record, body),
      '/api/pull': (body) => this.#pull(res, record, body),
      '/api/copy': async (body) => {
        this.#addModel(String(body.destination ?? ''))
        this.#send(res, record, 200, JSON_TYPE, '')
      },
      '/v1/chat/completions': (body) => this.#openAi(res, record, body, 'chat'),
      '/v1/completions': (body) => this.#openAi(res, record, body, 'completion'),
      '/v1/embeddings': (body) => this.#openAiEmbeddings(res, record, body),
    }
    if (path === '/api/delete' && method === 'DELETE') {
      const body = this.#parse(record.body)
      const name = String(body?.model ?? '')
      const before = this.#models.length
      this.#models = this.#models.filter((m) => m.name !== name)
      if (this.#models.length === before)
        return this.#json(res, record, 404, { error: `model '${name}' not found` })
      return this.#send(res, record, 200, JSON_TYPE, '')
    }
    const handler = routes[path]
    if (!handler) return this.#send(res, record, 404, 'text/plain', '404 page not found')
    if (method !== 'POST')
      return this.#send(res, record, 405, 'text/plain', '405 method not allowed')
    const body = this.#parse(record.body)
    if (!body) {
      if (path.startsWith('/v1/'))
        return this.#openAiError(res, record, 400, 'invalid request body', 'invalid_request_error')
      return this.#json(res, record, 400, { error: 'unexpected EOF' })
    }
    return handler(body)
  }

  #parse(text: string): Json | undefined {
    try {
      const value: unknown = JSON.parse(text)
      return value && typeof value === 'object' && !Array.isArray(value)
        ? (value as Json)
        : undefined
    } catch {
      return undefined
    }
  }

  #known(name: string): boolean {
    return this.#models.some((m) => m.name === name || m.name === `${name}:latest`)
  }

  #model(name: string): FakeModel {
    return (
      this.#models.find((m) => m.name === name || m.name === `${name}:latest`) ?? {
        name,
        family: 'llama',
        parameterSize: '1.2B',
        quantization: 'Q4_K_M',
        size: 807694464,
      }
    )
  }

  #addModel(name: string): void {
    if (name && !this.#known(name))
      this.#models.push({
        ...this.#model(name),
        name: name.includes(':') ? name : `${name}:latest`,
      })
  }

  #details(m: FakeModel): Json {
    return {
      parent_model: '',
      format: 'gguf',
      family: m.family,
      families: [m.family],
      parameter_size: m.parameterSize,
      quantization_level: m.quantization,
    }
  }

  #tag(m: FakeModel): Json {
    return {
      name: m.name,
      model: m.name,
      modified_at: '2026-01-01T00:00:00.000000000Z',
      size: m.size,
      digest: digestOf(m.name),
      details: this.#details(m),
    }
  }

  #ps(): Json[] {
    return [...this.#loaded.entries()].map(([name, expires]) => {
      const m = this.#model(name)
      return {
        name: m.name,
        model: m.name,
        size: m.size,
        digest: digestOf(m.name),
        details: this.#details(m),
        expires_at: new Date(expires).toISOString(),
        size_vram: 0,
        context_length: 4096,
      }
    })
  }

  #openAiModel(name: string): Json {
    return { id: name, object: 'model', created: 1767225600, owned_by: 'library' }
  }

  #createdAt(): string {
    return new Date(this.#clock.now()).toISOString()
  }

  /** The answer's tokens, produced lazily (padded ones can add up to many MiB). */
  #tokens(model: string, prompt: string, n: number): Tokens {
    const start = hash(`${model}\n${prompt}`) % WORDS.length
    const size = this.#behavior.tokenBytes
    const padding = size > 0 ? '.'.repeat(size) : ''
    const at = (i: number) => {
      const word = WORDS[(start + i) % WORDS.length] as string
      return size > word.length ? word + padding.slice(word.length) : word
    }
    return {
      length: n,
      *[Symbol.iterator]() {
        for (let i = 0; i < n; i++) yield at(i)
      },
      join: () => Array.from({ length: n }, (_, i) => at(i)).join(''),
    }
  }

  #count(body: Json, limitField: 'num_predict' | 'max_tokens'): number {
    const options = body.options as Json | undefined
    const limit = limitField === 'num_predict' ? options?.num_predict : body.max_tokens
    const n = this.#behavior.chunks
    return typeof limit === 'number' && limit > 0 ? Math.max(1, Math.min(n, limit)) : Math.max(1, n)
  }

  #metrics(promptTokens: number, evalTokens: number): Json {
    return {
      total_duration: 1_000_000 * (10 + evalTokens),
      load_duration: 1_000_000,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: 100_000 * promptTokens,
      eval_count: evalTokens,
      eval_duration: 1_000_000 * evalTokens,
    }
  }

  #strictMissing(res: ServerResponse, record: FakeRequestRecord, name: string): boolean {
    if (!this.#behavior.strictModels || this.#known(name)) return false
    this.#json(res, record, 404, { error: `model "${name}" not found, try pulling it first` })
    return true
  }

  async #generate(
    res: ServerResponse,
    record: FakeRequestRecord,
    body: Json,
    kind: 'generate' | 'chat',
  ): Promise<void> {
    const model = typeof body.model === 'string' ? body.model : ''
    if (!model) return this.#json(res, record, 400, { error: 'model is required' })
    if (this.#strictMissing(res, record, model)) return
    const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : []
    const prompt =
      kind === 'generate'
        ? typeof body.prompt === 'string'
          ? body.prompt
          : ''
        : messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n')
    const stream = body.stream !== false
    // An empty prompt loads (or with keep_alive 0 unloads) the model, as Ollama does.
    if (prompt === '' && (kind === 'generate' || messages.length === 0)) {
      const unload = body.keep_alive === 0 || body.keep_alive === '0'
      if (unload) this.#loaded.delete(model)
      else this.#loaded.set(model, this.#clock.now() + 300_000)
      const answer: Json = { model, created_at: this.#createdAt() }
      if (kind === 'chat') answer.message = { role: 'assistant', content: '' }
      else answer.response = ''
      Object.assign(answer, { done: true, done_reason: unload ? 'unload' : 'load' })
      return this.#json(res, record, 200, answer)
    }
    this.#loaded.set(model, this.#clock.now() + 300_000)
    const tokens = this.#tokens(model, prompt, this.#count(body, 'num_predict'))
    const promptTokens = countWords(prompt)
    const chunk = (text: string): Json =>
      kind === 'chat'
        ? {
            model,
            created_at: this.#createdAt(),
            message: { role: 'assistant', content: text },
            done: false,
          }
        : { model, created_at: this.#createdAt(), response: text, done: false }
    const final = (text: string): Json => {
      const base: Json =
        kind === 'chat'
          ? {
              model,
              created_at: this.#createdAt(),
              message: { role: 'assistant', content: text },
              done_reason: 'stop',
              done: true,
            }
          : {
              model,
              created_at: this.#createdAt(),
              response: text,
              done: true,
              done_reason: 'stop',
              context: [1, 2, 3],
            }
      return { ...base, ...this.#metrics(promptTokens, tokens.length) }
    }
    if (!stream) return this.#json(res, record, 200, final(tokens.join()))
    await this.#stream(
      res,
      record,
      NDJSON,
      (function* () {
        for (const t of tokens) yield () => `${JSON.stringify(chunk(t))}\n`
        yield () => `${JSON.stringify(final(''))}\n`
      })(),
    )
  }

  async #openAi(
    res: ServerResponse,
    record: FakeRequestRecord,
    body: Json,
    kind: 'chat' | 'completion',
  ): Promise<void> {
    const model = typeof body.model === 'string' ? body.model : ''
    if (!model)
      return this.#openAiError(res, record, 400, 'model is required', 'invalid_request_error')
    if (this.#behavior.strictModels && !this.#known(model)) {
      return this.#openAiError(
        res,
        record,
        404,
        `model "${model}" not found, try pulling it first`,
        'not_found_error',
      )
    }
    const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : []
    const prompt =
      kind === 'chat'
        ? messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n')
        : typeof body.prompt === 'string'
          ? body.prompt
          : ''
    this.#loaded.set(model, this.#clock.now() + 300_000)
    const tokens = this.#tokens(model, prompt, this.#count(body, 'max_tokens'))
    const promptTokens = countWords(prompt)
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${hash(`${model}\n${prompt}`) % 1000}`
    const created = Math.floor(this.#clock.now() / 1000)
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: tokens.length,
      total_tokens: promptTokens + tokens.length,
    }
    const object = kind === 'chat' ? 'chat.completion' : 'text_completion'
    const head = { id, object, created, model, system_fingerprint: 'fp_ollama' }
    if (body.stream !== true) {
      const choice =
        kind === 'chat'
          ? {
              index: 0,
              message: { role: 'assistant', content: tokens.join() },
              finish_reason: 'stop',
            }
          : { index: 0, text: tokens.join(), finish_reason: 'stop' }
      return this.#json(res, record, 200, { ...head, choices: [choice], usage })
    }
    const chunkObject = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'
    const event = (choice: Json | null, extra: Json = {}) =>
      `data: ${JSON.stringify({ ...head, object: chunkObject, choices: choice ? [choice] : [], ...extra })}\n\n`
    const piece = (text: string, finish: string | null) =>
      kind === 'chat'
        ? event({ index: 0, delta: { role: 'assistant', content: text }, finish_reason: finish })
        : event({ text, index: 0, finish_reason: finish })
    const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true
    await this.#stream(
      res,
      record,
      SSE,
      (function* () {
        for (const t of tokens) yield () => piece(t, null)
        yield () => piece('', 'stop')
        if (includeUsage) yield () => event(null, { usage })
        yield () => 'data: [DONE]\n\n'
      })(),
    )
  }

  async #embed(res: ServerResponse, record: FakeRequestRecord, body: Json): Promise<void> {
    const model = String(body.model ?? '')
    if (!model) return this.#json(res, record, 400, { error: 'model is required' })
    if (this.#strictMissing(res, record, model)) return
    const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')]
    this.#loaded.set(model, this.#clock.now() + 300_000)
    const promptTokens = inputs.reduce((s, t) => s + countWords(t), 0)
    return this.#json(res, record, 200, {
      model,
      embeddings: inputs.map(embedding),
      total_duration: 2_000_000,
      load_duration: 1_000_000,
      prompt_eval_count: promptTokens,
    })
  }

  async #embeddings(res: ServerResponse, record: FakeRequestRecord, body: Json): Promise<void> {
    const model = String(body.model ?? '')
    if (!model) return this.#json(res, record, 400, { error: 'model is required' })
    if (this.#strictMissing(res, record, model)) return
    return this.#json(res, record, 200, { embedding: embedding(String(body.prompt ?? '')) })
  }

  async #openAiEmbeddings(
    res: ServerResponse,
    record: FakeRequestRecord,
    body: Json,
  ): Promise<void> {
    const model = String(body.model ?? '')
    const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')]
    const base64 = body.encoding_format === 'base64'
    const data = inputs.map((text, index) => {
      const vector = embedding(text)
      return {
        object: 'embedding',
        embedding: base64
          ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
          : vector,
        index,
      }
    })
    const promptTokens = inputs.reduce((s, t) => s + countWords(t), 0)
    return this.#json(res, record, 200, {
      object: 'list',
      data,
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    })
  }

  async #show(res: ServerResponse, record: FakeRequestRecord, body: Json): Promise<void> {
    const name = String(body.model ?? body.name ?? '')
    if (!name) return this.#json(res, record, 400, { error: 'model is required' })
    if (this.#strictMissing(res, record, name)) return
    const m = this.#model(name)
    return this.#json(res, record, 200, {
      license: 'fake license',
      modelfile: `# Modelfile generated by the fake Ollama\nFROM ${m.name}\n`,
      parameters: 'stop "<|im_end|>"',
      template: '{{ .Prompt }}',
      details: this.#details(m),
      model_info: { 'general.architecture': m.family, 'general.parameter_count': 494032768 },
      capabilities: ['completion'],
      modified_at: '2026-01-01T00:00:00.000000000Z',
    })
  }

  async #pull(res: ServerResponse, record: FakeRequestRecord, body: Json): Promise<void> {
    const name = String(body.model ?? body.name ?? '')
    if (!name) return this.#json(res, record, 400, { error: 'model is required' })
    this.#addModel(name)
    if (body.stream === false) return this.#json(res, record, 200, { status: 'success' })
    const digest = `sha256:${digestOf(name)}`
    const total = this.#model(name).size
    const steps = Math.max(1, this.#behavior.chunks)
    const lines = [
      { status: 'pulling manifest' },
      ...Array.from({ length: steps }, (_, i) => ({
        status: `pulling ${digestOf(name).slice(0, 12)}`,
        digest,
        total,
        completed: Math.round((total * (i + 1)) / steps),
      })),
      { status: 'verifying sha256 digest' },
      { status: 'writing manifest' },
      { status: 'success' },
    ]
    await this.#stream(
      res,
      record,
      NDJSON,
      lines.map((l) => () => `${JSON.stringify(l)}\n`),
    )
  }

  // ---- writing -----------------------------------------------------------------------------

  #openAiError(
    res: ServerResponse,
    record: FakeRequestRecord,
    status: number,
    message: string,
    type = 'api_error',
  ): void {
    this.#json(res, record, status, { error: { message, type, param: null, code: null } })
  }

  #json(res: ServerResponse, record: FakeRequestRecord, status: number, value: unknown): void {
    void this.#send(res, record, status, JSON_TYPE, JSON.stringify(value))
  }

  async #send(
    res: ServerResponse,
    record: FakeRequestRecord,
    status: number,
    contentType: string,
    body: string,
  ): Promise<void> {
    const slow = this.#behavior.slowBody
    if (!slow) {
      res.writeHead(status, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
      })
      record.bytesWritten += Buffer.byteLength(body)
      res.end(res.req.method === 'HEAD' ? undefined : body)
      return
    }
    res.writeHead(status, { 'content-type': contentType })
    const bytes = Buffer.from(body)
    for (let i = 0; i < bytes.length; i += slow.sliceBytes) {
      if (i > 0) await this.#sleep(slow.delayMs, res)
      await this.#write(res, record, bytes.subarray(i, i + slow.sliceBytes))
    }
    res.end()
  }

  async #stream(
    res: ServerResponse,
    record: FakeRequestRecord,
    contentType: string,
    pieces: Iterable<() => string>,
  ): Promise<void> {
    const b = this.#behavior
    res.writeHead(200, { 'content-type': contentType })
    let i = -1
    for (const produce of pieces) {
      i++
      if (b.failAfterChunks !== undefined && i >= b.failAfterChunks) {
        // Let the chunks already written reach the wire before the connection dies.
        await new Promise<void>((resolve) => setImmediate(resolve))
        res.destroy()
        throw new Gone()
      }
      if (i > 0 && b.chunkDelayMs > 0) await this.#sleep(b.chunkDelayMs, res)
      // Produced after the wait: its created_at is the moment it is sent.
      const piece = produce()
      if (b.slowBody) {
        const bytes = Buffer.from(piece)
        for (let j = 0; j < bytes.length; j += b.slowBody.sliceBytes) {
          if (j > 0) await this.#sleep(b.slowBody.delayMs, res)
          await this.#write(res, record, bytes.subarray(j, j + b.slowBody.sliceBytes))
        }
      } else {
        await this.#write(res, record, piece)
      }
    }
    res.end()
  }

  /** Writes and, when the socket is full, waits for drain (a real server's backpressure). */
  async #write(
    res: ServerResponse,
    record: FakeRequestRecord,
    data: string | Buffer,
  ): Promise<void> {
    if (res.destroyed) throw new Gone()
    record.bytesWritten += typeof data === 'string' ? Buffer.byteLength(data) : data.length
    if (res.write(data)) return
    record.blockedWrites++
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        res.off('drain', done)
        res.off('close', gone)
        resolve()
      }
      const gone = () => {
        res.off('drain', done)
        reject(new Gone())
      }
      res.on('drain', done)
      res.on('close', gone)
    })
  }

  async #sleep(ms: number, res: ServerResponse): Promise<void> {
    if (res.destroyed) throw new Gone()
    const controller = new AbortController()
    const onClose = () => controller.abort(new Gone())
    res.once('close', onClose)
    try {
      await this.#clock.sleep(ms, controller.signal)
    } finally {
      res.off('close', onClose)
    }
  }
}

/** Starts a fake Ollama on 127.0.0.1 (port 0 unless given). */
export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  return new FakeOllama(options).start()
}
