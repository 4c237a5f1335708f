import { Agent } from 'undici'
import { describe, expect, it } from 'vitest'
import { createGateway } from '../../src/gateway/gateway.js'
import { FakeOllama } from '../../src/simulator/fake-ollama.js'
import {
  ControlledBackend,
  ManualClock,
  openRequest,
  rawRequest,
  readAll,
  readLines,
  startStack,
  until,
} from './helpers.js'

describe('graceful shutdown', () => {
  it(
    'stops accepting, lets short streams finish, ends long ones in-stream at the deadline',
    { timeout: 20_000 },
    async () => {
      const clock = new ManualClock()
      const fakeClock = new ManualClock()
      const stack = await startStack({
        clock,
        fake: { clock: fakeClock, behavior: { chunks: 100, chunkDelayMs: 1000 } },
      })
      const short = await openRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"p","options":{"num_predict":1}}',
      })
      const long = await openRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/chat',
        body: '{"model":"m","messages":[{"role":"user","content":"x"}]}',
      })
      const shortBody = readAll(short.res)
      const longBody = readAll(long.res)
      await until(() => stack.gateway.stats().inFlight === 2, 'two streams')

      let closed = false
      const closing = stack.gateway.close({ deadlineMs: 5000 }).then(() => (closed = true))
      // New connections are refused at once.
      await expect(rawRequest({ port: stack.port, path: '/api/version' })).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      })

      // The short stream completes normally while the gateway drains.
      await fakeClock.advance(1000)
      const shortLines = (await shortBody).trim().split('\n')
      expect(JSON.parse(shortLines.at(-1) as string)).toMatchObject({ done: true })
      expect(closed).toBe(false)

      // At the deadline the long one gets an error line in its own format, and the close resolves.
      await clock.advance(5000)
      await closing
      const longLines = (await longBody).trim().split('\n')
      expect(longLines.length).toBeLessThan(100)
      expect(JSON.parse(longLines.at(-1) as string)).toMatchObject({
        code: 'gateway_shutting_down',
        error: expect.any(String),
      })
      await stack.fake.nextAbort((r) => r.url === '/api/chat')
      await stack.backend.close()
      await stack.fake.close()
    },
  )

  it('SSE streams get an SSE error event at the deadline', { timeout: 20_000 }, async () => {
    const clock = new ManualClock()
    const fakeClock = new ManualClock()
    const stack = await startStack({
      clock,
      fake: { clock: fakeClock, behavior: { chunks: 100, chunkDelayMs: 1000 } },
    })
    const stream = await openRequest({
      port: stack.port,
      method: 'POST',
      path: '/v1/chat/completions',
      body: '{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}',
    })
    await readLines(stream.res, 1)
    const body = readAll(stream.res)
    const closing = stack.gateway.close({ deadlineMs: 1000 })
    await clock.advance(1000)
    await closing
    const text = await body
    const last = text.trim().split('\n\n').at(-1) as string
    expect(JSON.parse(last.replace(/^data: /, ''))).toMatchObject({
      error: { code: 'gateway_shutting_down' },
    })
    await stack.backend.close()
    await stack.fake.close()
  })

  it('held requests get 503 at once; an idle gateway closes without waiting for the deadline', async () => {
    const fake = await new FakeOllama().start()
    const agent = new Agent()
    const backend = new ControlledBackend({ origin: fake.url, dispatcher: agent, headers: {} })
    const clock = new ManualClock()
    const gateway = createGateway({ backend, clock, processMetrics: false })
    const { port } = await gateway.listen('127.0.0.1', 0)
    const held = rawRequest({ port, method: 'POST', path: '/api/chat', body: '{}' })
    await until(() => gateway.stats().held === 1, 'a held request')
    const closing = gateway.close({ deadlineMs: 60_000 })
    const res = await held
    expect(res.status).toBe(503)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'gateway_shutting_down' })
    await closing // no clock advance needed: nothing left in flight
    expect(backend.begins).toBe(backend.ends)
    await agent.close()
    await fake.close()
  })
})
