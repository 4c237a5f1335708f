import { Agent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ExollamaError } from '../../src/shared/index.js'
import { createGateway, type Gateway } from '../../src/gateway/gateway.js'
import { FakeOllama } from '../../src/simulator/fake-ollama.js'
import {
  ControlledBackend,
  ManualClock,
  openRequest,
  rawRequest,
  readAll,
  until,
  type RawResponse,
} from './helpers.js'
import { request as httpRequest } from 'node:http'

const CHAT = JSON.stringify({
  model: 'qwen2.5:0.5b',
  messages: [{ role: 'user', content: 'hi' }],
  stream: false,
})

describe('wake on request', () => {
  let fake: FakeOllama
  let agent: Agent
  let backend: ControlledBackend
  let clock: ManualClock
  let gateway: Gateway
  let port: number

  const start = async (options: Parameters<typeof createGateway>[0]['options'] = {}) => {
    gateway = createGateway({ backend, clock, options, processMetrics: false })
    port = (await gateway.listen('127.0.0.1', 0)).port
  }

  beforeEach(async () => {
    fake = await new FakeOllama().start()
    agent = new Agent()
    backend = new ControlledBackend({
      origin: fake.url,
      dispatcher: agent,
      headers: { 'x-ollama-key': 'instance-key' },
    })
    clock = new ManualClock()
  })
  afterEach(async () => {
    await gateway.close({ deadlineMs: 0 })
    await agent.close()
    await fake.close()
  })

  const post = (path = '/api/chat', body = CHAT) => rawRequest({ port, method: 'POST', path, body })

  it('holds requests while the instance wakes; one wake serves them all', async () => {
    await start()
    const answers = Promise.all(Array.from({ length: 5 }, () => post()))
    await until(() => backend.calls === 5, 'five held requests')
    expect(gateway.stats().held).toBe(5)
    expect(backend.wakes).toBe(1)
    expect(fake.requests).toHaveLength(0)
    backend.finishWake()
    const results = await answers
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(results.every((r) => (JSON.parse(r.body) as { done: boolean }).done)).toBe(true)
    expect(fake.requests).toHaveLength(5)
    expect(gateway.stats().held).toBe(0)
    expect(await gateway.metrics.wakes.get()).toMatchObject({ values: [{ value: 1 }] })
    // Each held request told the backend who it was for.
    expect(backend.inputs.map((i) => i.reason.route)).toEqual(Array(5).fill('/api/chat'))
    expect(backend.inputs[0]?.reason.clientIp).toMatch(/127\.0\.0\.1/)
  })

  it('caps the number of held requests: 503 + Retry-After over the cap', async () => {
    await start({ maxHeldRequests: 2, retryAfterSeconds: 20 })
    const first = Promise.all([post(), post()])
    await until(() => gateway.stats().held === 2, 'two held requests')
    const third = await post('/v1/chat/completions')
    expect(third.status).toBe(503)
    expect(third.headers['retry-after']).toBe('20')
    expect(JSON.parse(third.body)).toMatchObject({
      error: { code: 'too_many_held_requests', type: 'api_error' },
    })
    backend.finishWake()
    expect((await first).map((r) => r.status)).toEqual([200, 200])
  })

  it('a held request that outlives the wake timeout gets 503 + Retry-After + instance_waking_timeout', async () => {
    await start({ wakeTimeoutMs: 900_000, retryAfterSeconds: 30 })
    const answer = post()
    await until(() => gateway.stats().held === 1, 'a held request')
    await clock.advance(899_999)
    expect(gateway.stats().held).toBe(1)
    await clock.advance(1)
    const res = await answer
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('30')
    expect(JSON.parse(res.body)).toMatchObject({
      code: 'instance_waking_timeout',
      error: expect.stringContaining('900 s'),
    })
    expect(gateway.stats()).toMatchObject({ held: 0, inFlight: 0 })
    // Its own wait ended; the shared wake goes on for others.
    expect(backend.inputs[0]?.signal.aborted).toBe(true)
    expect(backend.begins).toBe(backend.ends)
  })

  it('a client that disconnects while held is released and never forwarded', async () => {
    await start()
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/chat',
      agent: false,
      headers: { 'content-length': Buffer.byteLength(CHAT) },
    })
    req.on('error', () => {})
    req.end(CHAT)
    await until(() => gateway.stats().held === 1, 'a held request')
    req.destroy()
    await until(
      () => gateway.stats().held === 0 && gateway.stats().inFlight === 0,
      'the held request to be released',
    )
    expect(backend.inputs[0]?.signal.aborted).toBe(true)
    expect(backend.ends).toBe(backend.begins)
    backend.finishWake()
    // A later request goes through; the released one never does.
    expect((await post('/api/generate', '{"model":"m","prompt":"x","stream":false}')).status).toBe(
      200,
    )
    expect(fake.requests.map((r) => r.url)).toEqual(['/api/generate'])
    expect(gateway.metrics.requestCount('/api/chat', 499)).toBe(1)
  })

  it('a failed wake answers 503 with the backend’s code', async () => {
    await start()
    const answer = post()
    await until(() => gateway.stats().held === 1, 'a held request')
    backend.failWake(
      new ExollamaError(
        'exoscale_quota_exceeded',
        'Quota exceeded for resource gpu (limit 0); ask Exoscale support',
        { kind: 'cloud' },
      ),
    )
    const res = await answer
    expect(res.status).toBe(503)
    expect(JSON.parse(res.body)).toMatchObject({
      code: 'exoscale_quota_exceeded',
      error: expect.stringContaining('Quota exceeded'),
    })
    expect(res.headers['retry-after']).toBeDefined()
  })

  it('does not count a wake when the instance is already waking', async () => {
    backend.current = 'booting'
    await start()
    const answer = post()
    await until(() => gateway.stats().held === 1, 'a held request')
    backend.finishWake()
    expect((await answer).status).toBe(200)
    expect(await gateway.metrics.wakes.get()).toMatchObject({ values: [{ value: 0 }] })
  })
})

describe('metadata while asleep', () => {
  let fake: FakeOllama
  let agent: Agent
  let backend: ControlledBackend
  let gateway: Gateway
  let port: number

  beforeEach(async () => {
    fake = await new FakeOllama().start()
    agent = new Agent()
    backend = new ControlledBackend({ origin: fake.url, dispatcher: agent, headers: {} })
    gateway = createGateway({
      backend,
      processMetrics: false,
      options: { versionFallback: '0.0.0' },
    })
    port = (await gateway.listen('127.0.0.1', 0)).port
  })
  afterEach(async () => {
    await gateway.close({ deadlineMs: 0 })
    await agent.close()
    await fake.close()
  })

  const get = (path: string, method = 'GET'): Promise<RawResponse> =>
    rawRequest({ port, path, method })

  it('with nothing cached: empty lists and the fallback version, without waking or activity', async () => {
    const tags = await get('/api/tags')
    expect(tags.status).toBe(200)
    expect(JSON.parse(tags.body)).toEqual({ models: [] })
    expect(JSON.parse((await get('/api/ps')).body)).toEqual({ models: [] })
    expect(JSON.parse((await get('/v1/models')).body)).toEqual({ object: 'list', data: [] })
    expect(JSON.parse((await get('/api/version')).body)).toEqual({ version: '0.0.0' })
    expect((await get('/api/tags', 'HEAD')).status).toBe(200)
    expect(backend.calls).toBe(0)
    expect(backend.begins).toBe(0)
    expect(fake.requests).toHaveLength(0)
  })

  it('while ready they are forwarded (not activity); asleep, the last answers come back byte for byte', async () => {
    backend.current = 'ready'
    const live: Record<string, string> = {}
    for (const path of ['/api/tags', '/api/version', '/api/ps', '/v1/models']) {
      const res = await get(path)
      expect(res.status).toBe(200)
      live[path] = res.body
    }
    // Load a model so /api/ps is not empty, then ask again: the cache follows the last answer.
    expect(
      (
        await rawRequest({
          port,
          method: 'POST',
          path: '/api/generate',
          body: '{"model":"llama3.2:1b","prompt":"x","stream":false}',
        })
      ).status,
    ).toBe(200)
    live['/api/ps'] = (await get('/api/ps')).body
    expect(JSON.parse(live['/api/ps']).models).toHaveLength(1)
    expect(fake.requests).toHaveLength(6)
    expect(backend.begins).toBe(1) // only the generate

    backend.sleep('stopped')
    for (const path of Object.keys(live)) {
      const res = await get(path)
      expect(res.status).toBe(200)
      expect(res.body).toBe(live[path])
      expect(res.headers['x-exollama-cache']).toBe('hit')
    }
    const model = await get('/v1/models/qwen2.5%3A0.5b')
    expect(JSON.parse(model.body)).toEqual({
      id: 'qwen2.5:0.5b',
      object: 'model',
      created: 1767225600,
      owned_by: 'library',
    })
    expect(fake.requests).toHaveLength(6)
    expect(backend.calls).toBe(1 + 5)
    expect(backend.begins).toBe(1)
  })

  it('an unknown /v1/models/:model while asleep wakes the instance (the answer must come from upstream)', async () => {
    const answer = get('/v1/models/unknown')
    await until(() => backend.calls === 1, 'a wake')
    backend.finishWake()
    expect((await answer).status).toBe(200)
    expect(fake.requests[0]?.url).toBe('/v1/models/unknown')
  })

  it('falls back to the cached answer when the instance fails before answering', async () => {
    backend.current = 'ready'
    const live = await get('/api/tags')
    fake.set({ failBeforeHeaders: 'reset' })
    const res = await get('/api/tags')
    expect(res.status).toBe(200)
    expect(res.body).toBe(live.body)
    expect(res.headers['x-exollama-cache']).toBe('stale')
  })
})

describe('activity accounting', () => {
  it('a stream is activity from acceptance to its last byte, aborted ones included', async () => {
    const fakeClock = new ManualClock()
    const fake = await new FakeOllama({
      clock: fakeClock,
      behavior: { chunks: 3, chunkDelayMs: 1000 },
    }).start()
    const agent = new Agent()
    const backend = new ControlledBackend(
      { origin: fake.url, dispatcher: agent, headers: {} },
      'ready',
    )
    const gateway = createGateway({ backend, processMetrics: false })
    const { port } = await gateway.listen('127.0.0.1', 0)
    try {
      const { res } = await openRequest({
        port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"p"}',
      })
      const body = readAll(res)
      expect(backend.inFlight).toBe(1)
      await fakeClock.advance(1000)
      await fakeClock.advance(1000)
      expect(backend.inFlight).toBe(1)
      await fakeClock.advance(1000)
      await body
      await until(() => backend.inFlight === 0, 'the activity to end')
      expect(backend.begins).toBe(1)

      // Aborted mid-stream: the activity ends too.
      const second = await openRequest({
        port,
        method: 'POST',
        path: '/api/chat',
        body: '{"model":"m","messages":[{"role":"user","content":"x"}]}',
      })
      expect(backend.inFlight).toBe(1)
      second.abort()
      await until(() => backend.inFlight === 0, 'the aborted activity to end')
      expect(backend.begins).toBe(2)

      // Management, metrics, root and cached routes are never activity.
      for (const path of [
        '/',
        '/metrics',
        '/exollama/v1/status',
        '/api/tags',
        '/api/version',
        '/v1/models',
        '/api/ps',
      ]) {
        await rawRequest({ port, path })
      }
      expect(backend.begins).toBe(2)
      // Refused requests are not activity either.
      await rawRequest({ port, method: 'POST', path: '/api/pull', body: '{}' })
      expect(backend.begins).toBe(2)
    } finally {
      await gateway.close({ deadlineMs: 0 })
      await agent.close()
      await fake.close()
    }
  })
})
