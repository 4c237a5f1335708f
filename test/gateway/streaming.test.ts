import { request as httpRequest } from 'node:http'
import { Ollama } from 'ollama'
import OpenAI from 'openai'
import { Agent, Dispatcher } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createGateway } from '../../src/gateway/gateway.js'
import type { Backend, Upstream } from '../../src/gateway/ports.js'
import { FakeOllama } from '../../src/simulator/fake-ollama.js'
import {
  ManualClock,
  openRequest,
  rawExchange,
  rawRequest,
  readAll,
  readLines,
  startStack,
  until,
  type Stack,
} from './helpers.js'

const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: 'qwen2.5:0.5b',
    messages: [{ role: 'user', content: 'hello there' }],
    ...extra,
  })

describe('client disconnects abort the upstream', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack()
  })
  afterAll(() => stack.close())
  afterEach(() => stack.fake.reset())

  it.each([
    ['NDJSON', '/api/chat', chat()],
    ['SSE', '/v1/chat/completions', chat({ stream: true })],
  ])(
    '%s: closing the client mid-stream closes the upstream request',
    { timeout: 10_000 },
    async (_name, path, body) => {
      // A long, slow stream: it would run for a minute unless the abort propagates.
      stack.fake.set({ chunks: 1000, chunkDelayMs: 60 })
      const { res, abort } = await openRequest({ port: stack.port, method: 'POST', path, body })
      expect(res.statusCode).toBe(200)
      await readLines(res, 2)
      const aborted = stack.fake.nextAbort()
      abort()
      const record = await aborted
      expect(record.url).toBe(path)
      expect(record.finished).toBe(false)
      await until(() => stack.gateway.stats().inFlight === 0, 'the gateway to forget the stream')
      await until(() => stack.fake.openConnections === 0, 'the upstream socket to close')
    },
  )

  it(
    'closing the client while the upstream has not answered yet aborts it too',
    { timeout: 10_000 },
    async () => {
      stack.fake.set({ hangBeforeHeadersMs: Infinity })
      const req = httpRequest({
        host: '127.0.0.1',
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        headers: { 'content-type': 'application/json' },
        agent: false,
      })
      req.on('error', () => {})
      req.end(JSON.stringify({ model: 'm', prompt: 'p' }))
      await until(
        () => stack.fake.requests.length === 1 && stack.fake.requests[0]?.bodyComplete === true,
        'the upstream to get the request',
      )
      const aborted = stack.fake.nextAbort()
      req.destroy()
      expect((await aborted).url).toBe('/api/generate')
    },
  )

  it('ollama-js abort() reaches the upstream', { timeout: 10_000 }, async () => {
    stack.fake.set({ chunks: 1000, chunkDelayMs: 60 })
    const client = new Ollama({ host: stack.url })
    const stream = await client.generate({ model: 'qwen2.5:0.5b', prompt: 'go', stream: true })
    const aborted = stack.fake.nextAbort()
    const consume = async () => {
      for await (const part of stream) {
        expect(part.done).toBe(false)
        stream.abort()
      }
    }
    await expect(consume()).rejects.toMatchObject({ name: 'AbortError' })
    expect((await aborted).url).toBe('/api/generate')
  })
})

describe('upstream failures', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack()
  })
  afterAll(() => stack.close())
  afterEach(() => stack.fake.reset())

  it('before headers: 502 in the route family’s shape', async () => {
    stack.fake.set({ failBeforeHeaders: 'reset' })
    const ollama = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/chat',
      body: chat(),
    })
    expect(ollama.status).toBe(502)
    expect(JSON.parse(ollama.body)).toMatchObject({
      error: expect.stringContaining('could not be reached'),
      code: 'upstream_unavailable',
    })
    const openai = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/v1/chat/completions',
      body: chat(),
    })
    expect(openai.status).toBe(502)
    expect(JSON.parse(openai.body)).toMatchObject({
      error: { type: 'api_error', code: 'upstream_unavailable' },
    })
  })

  it('an upstream error status and body pass through unchanged (503 gains a Retry-After)', async () => {
    stack.fake.set({ failBeforeHeaders: 500 })
    const res = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/generate',
      body: '{}',
    })
    expect(res.status).toBe(500)
    expect(res.body).toBe('{"error":"fake upstream failure"}')
    stack.fake.set({ failBeforeHeaders: 503 })
    const busy = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/generate',
      body: '{}',
    })
    expect(busy.status).toBe(503)
    expect(busy.headers['retry-after']).toBe('5')
    expect(busy.body).toBe('{"error":"fake upstream failure"}')
  })

  it('an unreachable upstream is a 502, not a crash', async () => {
    const backend: Backend = {
      state: () => 'ready',
      ensureReady: async (): Promise<Upstream> => ({
        origin: 'http://127.0.0.1:1',
        dispatcher: new Agent(),
        headers: {},
      }),
      activity: { begin: () => () => {} },
    }
    const gateway = createGateway({ backend, processMetrics: false })
    const { port } = await gateway.listen('127.0.0.1', 0)
    const res = await rawRequest({ port, method: 'POST', path: '/api/embed', body: '{}' })
    expect(res.status).toBe(502)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'upstream_unavailable' })
    await gateway.close()
  })

  it('mid-stream NDJSON: a final {"error": …} line, which ollama-js throws', async () => {
    stack.fake.set({ chunks: 10, failAfterChunks: 3 })
    const res = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/chat',
      body: chat(),
    })
    expect(res.status).toBe(200)
    const lines = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toHaveLength(4)
    expect(lines.slice(0, 3).every((l) => l.done === false)).toBe(true)
    expect(lines[3]).toMatchObject({
      error: expect.stringContaining('stopped sending'),
      code: 'upstream_stream_failed',
    })

    const client = new Ollama({ host: stack.url })
    const seen: string[] = []
    await expect(
      (async () => {
        for await (const part of await client.chat({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
          stream: true,
        })) {
          seen.push(part.message.content)
        }
      })(),
    ).rejects.toThrow(/stopped sending/)
    expect(seen).toHaveLength(3)
  })

  it('mid-stream SSE: a final data: {"error":{…}} event, which the openai client throws', async () => {
    stack.fake.set({ chunks: 10, failAfterChunks: 2 })
    const res = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/v1/chat/completions',
      body: chat({ stream: true }),
    })
    expect(res.status).toBe(200)
    const events = res.body.split('\n\n').filter(Boolean)
    expect(events).toHaveLength(3)
    expect(events.every((e) => e.startsWith('data: '))).toBe(true)
    expect(JSON.parse((events[2] as string).slice(6))).toMatchObject({
      error: {
        message: expect.stringContaining('stopped sending'),
        type: 'api_error',
        code: 'upstream_stream_failed',
      },
    })
    expect(res.body).not.toContain('[DONE]')

    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'x', maxRetries: 0 })
    await expect(
      (async () => {
        for await (const _ of await client.chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
          stream: true,
        })) {
          // consume
        }
      })(),
    ).rejects.toThrow(/stopped sending/)
  })
})

describe('limits', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ options: { maxBodyBytes: 64 * 1024, maxHeaderBytes: 8 * 1024 } })
  })
  afterAll(() => stack.close())
  afterEach(() => stack.fake.reset())

  it('a declared body over the limit is 413 before the upstream is contacted', async () => {
    const big = JSON.stringify({ model: 'm', prompt: 'x'.repeat(70 * 1024) })
    const res = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/generate',
      body: big,
    })
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'request_too_large' })
    const openai = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/v1/completions',
      body: big,
    })
    expect(JSON.parse(openai.body)).toMatchObject({
      error: { code: 'request_too_large', type: 'invalid_request_error' },
    })
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('a chunked body that grows past the limit is 413 and never reaches the upstream complete', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port: stack.port,
          method: 'POST',
          path: '/api/generate',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          agent: false,
        })
        req.on('error', reject)
        req.on(
          'response',
          (res) =>
            void readAll(res).then((text) => resolve({ status: res.statusCode ?? 0, body: text })),
        )
        req.write('{"model":"m","prompt":"')
        const piece = 'y'.repeat(8 * 1024)
        let sent = 0
        const pump = () => {
          while (sent < 200 * 1024) {
            sent += piece.length
            if (!req.write(piece)) return void req.once('drain', pump)
          }
          req.end('"}')
        }
        pump()
      },
    )
    expect(status).toBe(413)
    expect(JSON.parse(body)).toMatchObject({ code: 'request_too_large' })
    await until(
      () => stack.fake.requests.every((r) => r.aborted || !r.bodyComplete),
      'the upstream side to settle',
    )
    expect(stack.fake.requests.every((r) => !r.bodyComplete && !r.finished)).toBe(true)
  })

  it('a chunked body under the limit is forwarded whole', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        headers: { 'transfer-encoding': 'chunked' },
        agent: false,
      })
      req.on('error', reject)
      req.on('response', (r) => void readAll(r).then(() => resolve(r.statusCode ?? 0)))
      req.write('{"model":"m",')
      req.end('"prompt":"hi","stream":false}')
    })
    expect(res).toBe(200)
    expect(stack.fake.requests[0]).toMatchObject({
      bodyComplete: true,
      body: '{"model":"m","prompt":"hi","stream":false}',
    })
  })

  it('headers over the limit get 431 JSON', async () => {
    const answer = await rawExchange(
      stack.port,
      `GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1:${stack.port}\r\nX-Big: ${'z'.repeat(10 * 1024)}\r\n\r\n`,
    )
    expect(answer).toMatch(/^HTTP\/1.1 431 /)
    expect(answer).toContain('"code":"headers_too_large"')
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('compressed request bodies get 415', async () => {
    const res = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/chat',
      body: chat(),
      headers: { 'content-encoding': 'zstd' },
    })
    expect(res.status).toBe(415)
    expect(stack.fake.requests).toHaveLength(0)
  })
})

describe('flow', () => {
  it('every chunk reaches the client as soon as the upstream sends it', async () => {
    const fakeClock = new ManualClock()
    const stack = await startStack({
      fake: { clock: fakeClock, behavior: { chunks: 4, chunkDelayMs: 1000 } },
    })
    try {
      const { res } = await openRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: JSON.stringify({ model: 'm', prompt: 'p' }),
      })
      const lines: string[] = []
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (c: string) => {
        buffer += c
        const parts = buffer.split('\n')
        buffer = parts.pop() ?? ''
        lines.push(...parts.filter(Boolean))
      })
      // The fake produces the next chunk only when its clock moves: a buffering proxy would
      // hold chunk n until later ones arrive, and these waits would never end.
      for (let n = 1; n <= 4; n++) {
        await until(() => lines.length === n, `chunk ${n}`)
        expect(fakeClock.pendingCount).toBe(1)
        await fakeClock.advance(1000)
      }
      await until(() => lines.length === 5, 'the final chunk')
      expect(JSON.parse(lines[4] as string)).toMatchObject({ done: true })
    } finally {
      await stack.close()
    }
  })

  it(
    'a slow reader pauses the upstream: the gateway’s buffers stay bounded',
    { timeout: 30_000 },
    async () => {
      // 64 MiB produced as fast as the fake can write; the client reads nothing for a while.
      const stack = await startStack({
        fake: { behavior: { chunks: 4096, tokenBytes: 16 * 1024 } },
      })
      try {
        const { res } = await openRequest({
          port: stack.port,
          method: 'POST',
          path: '/api/generate',
          body: JSON.stringify({ model: 'm', prompt: 'p' }),
        })
        res.pause()
        let received = 0
        // Wait until the whole pipe is full: the fake blocks on drain and stops producing.
        let last = -1
        let stable = 0
        await until(() => {
          const written = stack.fake.requests[0]?.bytesWritten ?? 0
          stable = written === last ? stable + 1 : 0
          last = written
          return (stack.fake.requests[0]?.blockedWrites ?? 0) > 0 && stable >= 50
        }, 'the upstream to be paused by backpressure')
        const written = stack.fake.requests[0]?.bytesWritten ?? 0
        const total = 4096 * 16 * 1024
        expect(written).toBeLessThan(total / 2)
        // What the gateway holds in its own response buffer is about one high-water mark.
        expect(stack.gateway.stats().bufferedBytes).toBeLessThanOrEqual(256 * 1024)
        // Now read it all: nothing is lost or reordered.
        res.on('data', (c: Buffer) => (received += c.length))
        res.resume()
        await new Promise<void>((resolve) => res.on('end', () => resolve()))
        expect(received).toBeGreaterThan(total)
        expect(stack.fake.requests[0]?.finished).toBe(true)
      } finally {
        await stack.close()
      }
    },
  )
})

describe('upstream timeouts', () => {
  it('sets the configured header and idle timeouts on every upstream request (none on headers by default)', async () => {
    const fake = await new FakeOllama().start()
    const seen: Dispatcher.DispatchOptions[] = []
    const agent = new Agent()
    class Recording extends Dispatcher {
      override dispatch(
        options: Dispatcher.DispatchOptions,
        handler: Dispatcher.DispatchHandler,
      ): boolean {
        seen.push(options)
        return agent.dispatch(options, handler)
      }
    }
    const backend: Backend = {
      state: () => 'ready',
      ensureReady: async () => ({ origin: fake.url, dispatcher: new Recording(), headers: {} }),
      activity: { begin: () => () => {} },
    }
    const gateway = createGateway({ backend, processMetrics: false })
    const { port } = await gateway.listen('127.0.0.1', 0)
    expect(
      (
        await rawRequest({
          port,
          method: 'POST',
          path: '/api/generate',
          body: '{"model":"m","prompt":"x","stream":false}',
        })
      ).status,
    ).toBe(200)
    expect(seen[0]).toMatchObject({
      headersTimeout: 0,
      bodyTimeout: 600_000,
      path: '/api/generate',
      method: 'POST',
    })
    await gateway.close()
    await agent.close()
    await fake.close()
  })
})
