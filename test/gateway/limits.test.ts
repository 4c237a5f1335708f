import { Agent, request } from 'undici'
import { describe, expect, it } from 'vitest'
import {
  ManualClock,
  keyTable,
  openRequest,
  rawRequest,
  readAll,
  startStack,
  until,
} from './helpers.js'

const GEN = '{"model":"m","prompt":"x","stream":false}'

describe('rate and concurrency limits', () => {
  it('per-key rate: over the bucket gets 429 + Retry-After, refilled as time passes', async () => {
    const clock = new ManualClock()
    const stack = await startStack({
      clock,
      keys: keyTable({
        'key-aaaaaaaaaaaaaaaa': { id: 'a', name: 'a', admin: false },
        'key-bbbbbbbbbbbbbbbb': { id: 'b', name: 'b', admin: false },
      }),
      options: { limits: { requestsPerMinute: 2, limitLoopback: true } },
    })
    try {
      const as = (key: string) =>
        rawRequest({
          port: stack.port,
          method: 'POST',
          path: '/api/generate',
          body: GEN,
          headers: { authorization: `Bearer ${key}` },
        })
      expect((await as('key-aaaaaaaaaaaaaaaa')).status).toBe(200)
      expect((await as('key-aaaaaaaaaaaaaaaa')).status).toBe(200)
      const limited = await as('key-aaaaaaaaaaaaaaaa')
      expect(limited.status).toBe(429)
      expect(limited.headers['retry-after']).toBe('30')
      expect(JSON.parse(limited.body)).toMatchObject({ code: 'rate_limited' })
      // Another key has its own bucket.
      expect((await as('key-bbbbbbbbbbbbbbbb')).status).toBe(200)
      await clock.advance(30_000)
      expect((await as('key-aaaaaaaaaaaaaaaa')).status).toBe(200)
      expect(stack.fake.requests).toHaveLength(4)
    } finally {
      await stack.close()
    }
  })

  it('per-key concurrency: the request over the limit gets 429 + Retry-After until one finishes', async () => {
    const fakeClock = new ManualClock()
    const stack = await startStack({
      fake: { clock: fakeClock, behavior: { chunks: 1, chunkDelayMs: 1000 } },
      options: { limits: { concurrencyPerKey: 1, limitLoopback: true } },
    })
    try {
      const first = await openRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"x"}',
      })
      const body = readAll(first.res)
      const second = await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/v1/completions',
        body: '{"model":"m","prompt":"x"}',
      })
      expect(second.status).toBe(429)
      expect(second.headers['retry-after']).toBe('1')
      expect(JSON.parse(second.body)).toMatchObject({
        error: { code: 'too_many_concurrent_requests', type: 'rate_limit_error' },
      })
      await fakeClock.advance(1000)
      await body
      await until(() => stack.gateway.stats().inFlight === 0, 'the first stream to finish')
      expect(
        (await rawRequest({ port: stack.port, method: 'POST', path: '/api/generate', body: GEN }))
          .status,
      ).toBe(200)
    } finally {
      await stack.close()
    }
  })

  it('defaults never throttle loopback clients', async () => {
    const stack = await startStack({
      options: { limits: { requestsPerMinute: 1, concurrencyPerKey: 1 } },
    })
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          rawRequest({ port: stack.port, method: 'POST', path: '/api/generate', body: GEN }),
        ),
      )
      expect(results.every((r) => r.status === 200)).toBe(true)
    } finally {
      await stack.close()
    }
  })

  it(
    'carries 500 concurrent upstream streams at once, without a gateway-side queue',
    { timeout: 60_000 },
    async () => {
      const fakeClock = new ManualClock()
      const stack = await startStack({
        fake: { clock: fakeClock, behavior: { chunks: 1, chunkDelayMs: 1000 } },
      })
      const agent = new Agent({ connections: null, keepAliveTimeout: 1000 })
      try {
        const n = 500
        const streams = Array.from({ length: n }, () =>
          request(`${stack.url}/api/chat`, {
            method: 'POST',
            dispatcher: agent,
            body: '{"model":"m","messages":[{"role":"user","content":"x"}]}',
          }).then(async (res) => ({ status: res.statusCode, text: await res.body.text() })),
        )
        // Every stream is open at the upstream at the same time (each waits for the fake's clock).
        await until(() => stack.fake.requests.length === n, `${n} upstream requests`, 100_000)
        expect(stack.fake.requests.every((r) => !r.finished)).toBe(true)
        expect(stack.gateway.stats().inFlight).toBe(n)
        await fakeClock.advance(1000)
        const results = await Promise.all(streams)
        expect(results.every((r) => r.status === 200 && r.text.includes('"done":true'))).toBe(true)
      } finally {
        await agent.close()
        await stack.close()
      }
    },
  )
})
