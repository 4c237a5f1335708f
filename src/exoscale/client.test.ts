import { describe, expect, it } from 'vitest'
import { ManualClock, Secret } from '../shared/index.js'
import { createExoscaleClient, type ExoscaleClientOptions } from './client.js'
import { isExoscaleError, type ExoscaleError } from './errors.js'
import { json, networkError, scriptedFetch, settle, type Step } from './fake-fetch.test-helper.js'
import { signRequest } from './sign.js'

const secret = new Secret('unit-test-secret')
const OP = { id: '11111111-1111-4111-8111-111111111111', state: 'pending' }

function setup(steps: Step[], extra: Partial<ExoscaleClientOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1))
  const { fetch, calls } = scriptedFetch(...steps)
  const client = createExoscaleClient({
    apiKey: 'EXOtest',
    apiSecret: secret,
    zone: 'ch-gva-2',
    fetch,
    clock,
    random: () => 0,
    ...extra,
  })
  return { client, calls, clock }
}

async function failure(p: Promise<unknown>): Promise<ExoscaleError> {
  try {
    await p
  } catch (e) {
    if (isExoscaleError(e)) return e
    throw e
  }
  throw new Error('expected a failure')
}

describe('endpoints', () => {
  it('talks to https://api-{zone}.exoscale.com/v2 by default', async () => {
    const { client, calls } = setup([json(200, { instances: [] })], { zone: 'at-vie-2' })
    expect(client.endpoint).toBe('https://api-at-vie-2.exoscale.com/v2')
    await client.listInstances()
    expect(calls[0]?.url.href).toBe('https://api-at-vie-2.exoscale.com/v2/instance')
  })

  it('sends EVERY call to the endpoint override, /zone included, ignoring api-endpoint', async () => {
    const zones = {
      zones: [{ name: 'ch-gva-2', 'api-endpoint': 'https://api-ch-gva-2.exoscale.com/v2' }],
    }
    const { client, calls } = setup(
      [json(200, zones), json(200, { instances: [] }), json(200, OP)],
      { endpoint: 'http://127.0.0.1:9/prefix/ch-gva-2/v2/' },
    )
    await client.listZones()
    await client.listInstances()
    await client.stopInstance('abc')
    expect(calls.map((c) => c.url.href)).toEqual([
      'http://127.0.0.1:9/prefix/ch-gva-2/v2/zone',
      'http://127.0.0.1:9/prefix/ch-gva-2/v2/instance',
      'http://127.0.0.1:9/prefix/ch-gva-2/v2/instance/abc:stop',
    ])
  })

  it('rejects malformed zones and endpoints before any call', () => {
    expect(() => setup([], { zone: 'x/../evil' })).toThrow(/not an Exoscale zone name/)
    expect(() => setup([], { endpoint: 'ftp://x/v2' })).toThrow(/http\(s\) base URL/)
    expect(() => setup([], { endpoint: 'not a url' })).toThrow(/not a URL/)
  })
})

describe('signing on the wire', () => {
  it('leaves GET /zone unsigned and signs everything else', async () => {
    const { client, calls } = setup([json(200, { zones: [] }), json(200, { quotas: [] })])
    await client.listZones()
    await client.listQuotas()
    expect(calls[0]?.headers.authorization).toBeUndefined()
    expect(calls[1]?.headers.authorization).toMatch(/^EXO2-HMAC-SHA256 credential=EXOtest,/)
  })

  it('signs the escaped path as sent (endpoint prefix included), the body string and the query', async () => {
    const { client, calls, clock } = setup([json(200, { instances: [] }), json(200, OP)], {
      endpoint: 'http://127.0.0.1:9/ch-gva-2/v2',
    })
    await client.listInstances({ labels: { 'exollama-name': 'n1', 'managed-by': 'exollama' } })
    await client.createInstance({
      name: 'x',
      'disk-size': 50,
      'instance-type': { id: 't' },
      template: { id: 'tpl' },
    })
    const expires = Math.floor(clock.now() / 1000) + 600
    const [list, create] = calls
    expect(list?.url.pathname).toBe('/ch-gva-2/v2/instance')
    expect(list?.url.search).toBe('?labels=exollama-name%3Dn1%20managed-by%3Dexollama')
    expect(list?.headers.authorization).toBe(
      signRequest({
        method: 'GET',
        path: '/ch-gva-2/v2/instance',
        query: { labels: 'exollama-name=n1 managed-by=exollama' },
        apiKey: 'EXOtest',
        apiSecret: secret,
        expires,
      }),
    )
    expect(create?.body).toBe(
      '{"name":"x","disk-size":50,"instance-type":{"id":"t"},"template":{"id":"tpl"}}',
    )
    expect(create?.headers['content-type']).toBe('application/json')
    expect(create?.headers.authorization).toBe(
      signRequest({
        method: 'POST',
        path: '/ch-gva-2/v2/instance',
        body: create?.body ?? '',
        apiKey: 'EXOtest',
        apiSecret: secret,
        expires,
      }),
    )
  })

  it('uses expires = now + 600 s, clamped to one hour', async () => {
    const { client, calls, clock } = setup([json(200, { quotas: [] })], {
      expiresInSeconds: 99_999,
    })
    await client.listQuotas()
    const expires = Number(/expires=(\d+)/.exec(calls[0]?.headers.authorization ?? '')?.[1])
    expect(expires).toBe(Math.floor(clock.now() / 1000) + 3600)
  })
})

describe('bodies', () => {
  it('sends {} to :start, no body to :stop and :reboot, and no content-type without a body', async () => {
    const { client, calls } = setup([json(200, OP)])
    await client.startInstance('i1')
    await client.stopInstance('i1')
    await client.rebootInstance('i1')
    await client.deleteInstance('i1')
    expect(calls.map((c) => [c.method, c.url.pathname, c.body])).toEqual([
      ['PUT', '/v2/instance/i1:start', '{}'],
      ['PUT', '/v2/instance/i1:stop', undefined],
      ['PUT', '/v2/instance/i1:reboot', undefined],
      ['DELETE', '/v2/instance/i1', undefined],
    ])
    expect(calls[0]?.headers['content-type']).toBe('application/json')
    expect(calls.slice(1).every((c) => c.headers['content-type'] === undefined)).toBe(true)
  })

  it('sends the security-group rule with the spec field names', async () => {
    const { client, calls } = setup([json(200, OP)])
    await client.addSecurityGroupRule('sg1', {
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 11435,
      'end-port': 11435,
      description: 'exollama',
    })
    expect(calls[0]?.url.pathname).toBe('/v2/security-group/sg1/rules')
    expect(JSON.parse(calls[0]?.body ?? '')).toEqual({
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 11435,
      'end-port': 11435,
      description: 'exollama',
    })
  })

  it('checks create limits before sending anything', async () => {
    const { client, calls } = setup([json(200, OP)])
    const base = { 'instance-type': { id: 't' }, template: { id: 'tpl' }, 'disk-size': 50 }
    for (const bad of [
      { ...base, 'disk-size': 5 },
      { ...base, 'disk-size': 60_000 },
      { ...base, 'user-data': 'not base64!' },
      { ...base, 'user-data': 'YWJj\nZGVm' },
      { ...base, 'user-data': 'YWJjZA' },
      { ...base, 'user-data': 'A'.repeat(32772) },
    ]) {
      expect((await failure(client.createInstance(bad))).code).toBe('exoscale_bad_request')
    }
    expect(calls).toHaveLength(0)
    await client.createInstance({ ...base, 'user-data': 'YWJjZA==' })
    expect(calls).toHaveLength(1)
  })

  it('reads a 204 / empty answer to a mutation as a finished operation', async () => {
    const { client } = setup([new Response(null, { status: 204 })])
    expect(await client.deleteSecurityGroup('sg')).toEqual({ state: 'success' })
  })
})

describe('retries', () => {
  it('retries a GET on 429 after exactly Retry-After seconds, re-signing with a fresh expires', async () => {
    const { client, calls, clock } = setup([
      json(429, { message: 'slow down' }, { 'retry-after': '7' }),
      json(200, { quotas: [{ resource: 'instance', usage: 0, limit: 10 }] }),
    ])
    const start = clock.now()
    const p = client.listQuotas()
    await clock.advance(6999)
    expect(calls).toHaveLength(1)
    await clock.advance(1)
    expect(await p).toHaveLength(1)
    expect(calls).toHaveLength(2)
    expect(clock.now() - start).toBe(7000)
    const exp = calls.map((c) => /expires=(\d+)/.exec(c.headers.authorization ?? '')?.[1])
    expect(Number(exp[1]) - Number(exp[0])).toBe(7)
  })

  it('honours an HTTP-date Retry-After', async () => {
    const clockStart = Date.UTC(2026, 0, 1)
    const date = new Date(clockStart + 4000).toUTCString()
    const { client, calls, clock } = setup([
      json(503, { message: 'busy' }, { 'retry-after': date }),
      json(200, { quotas: [] }),
    ])
    const p = client.listQuotas()
    await clock.advance(3999)
    expect(calls).toHaveLength(1)
    await clock.advance(1)
    await p
    expect(calls).toHaveLength(2)
  })

  it('retries GET on 5xx and network errors with growing backoff, then gives up with the last error', async () => {
    const { client, calls, clock } = setup([
      json(503, { message: 'unavailable' }),
      networkError(),
      json(502, 'bad gateway'),
      json(500, { message: 'boom' }),
      json(503, { message: 'still down' }),
    ])
    const times: number[] = []
    const origin = clock.now()
    const e = await failure(
      settle(
        clock,
        client.getInstance('i1').finally(() => times.push(clock.now() - origin)),
        100,
      ),
    )
    expect(calls).toHaveLength(5)
    expect(e.code).toBe('exoscale_server_error')
    expect(e.status).toBe(503)
    expect(e.attempts).toBe(5)
    expect(e.message).toContain('still down')
    // random() = 0: half of 1 s, 2 s, 4 s, 8 s
    expect(times[0]).toBe(500 + 1000 + 2000 + 4000)
  })

  it('does not retry 501 or 4xx', async () => {
    const { client, calls } = setup([json(501, { message: 'no' })])
    expect((await failure(client.getInstance('i'))).code).toBe('exoscale_server_error')
    expect(calls).toHaveLength(1)
  })

  it('NEVER retries the create POST: one call, the error surfaces', async () => {
    for (const step of [json(502, { message: 'bad gateway' }), networkError(), json(429, {})]) {
      const { client, calls } = setup([step, json(200, OP)])
      const e = await failure(
        client.createInstance({
          'disk-size': 10,
          'instance-type': { id: 't' },
          template: { id: 'x' },
        }),
      )
      expect(['exoscale_server_error', 'exoscale_network', 'exoscale_rate_limited']).toContain(
        e.code,
      )
      expect(calls).toHaveLength(1)
    }
  })

  it('retries PUT actions and DELETE', async () => {
    const { client, calls, clock } = setup([json(503, {}), json(200, OP)])
    await settle(clock, client.stopInstance('i'))
    await settle(clock, client.deleteInstance('i'))
    expect(calls.map((c) => c.method)).toEqual(['PUT', 'PUT', 'DELETE'])
  })

  it('gives up at once when Retry-After asks for too long', async () => {
    const { client, calls } = setup([json(429, {}, { 'retry-after': '3600' })])
    const e = await failure(client.listQuotas())
    expect(e.code).toBe('exoscale_rate_limited')
    expect(e.retryAfterMs).toBe(3_600_000)
    expect(calls).toHaveLength(1)
  })

  it('stops retrying when the signal aborts during the backoff', async () => {
    const { client, calls, clock } = setup([json(503, {})])
    const controller = new AbortController()
    const p = client.listQuotas({ signal: controller.signal })
    await clock.advance(100)
    controller.abort(new Error('user cancelled'))
    await expect(p).rejects.toThrow('user cancelled')
    await clock.advance(60_000)
    expect(calls).toHaveLength(1)
  })

  it('times out a hung attempt and retries it', async () => {
    let n = 0
    const { client, clock } = setup([], {
      requestTimeoutMs: 5000,
      fetch: (_input, init) => {
        n++
        if (n === 1) {
          return new Promise((_resolve, reject) => {
            init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))
          })
        }
        return Promise.resolve(json(200, { quotas: [] }))
      },
    })
    const p = client.listQuotas()
    await clock.advance(5000)
    await clock.advance(1000)
    expect(await p).toEqual([])
    expect(n).toBe(2)
  })
})

describe('responses', () => {
  it('keeps the request id of a failed call', async () => {
    const { client } = setup([
      json(404, { message: 'Instance not found' }, { 'x-request-id': 'req-42' }),
    ])
    const e = await failure(client.getInstance('nope'))
    expect(e).toMatchObject({
      code: 'exoscale_not_found',
      status: 404,
      method: 'GET',
      path: '/v2/instance/nope',
      requestId: 'req-42',
    })
  })

  it('maps a 200 with a body that is not JSON to exoscale_server_error', async () => {
    const { client } = setup([new Response('<html>', { status: 200 })])
    expect((await failure(client.listQuotas())).code).toBe('exoscale_server_error')
  })
})

describe('lookups', () => {
  it('filters instances by labels client-side even when the server ignores the filter', async () => {
    const { client } = setup([
      json(200, {
        instances: [
          { id: 'a', labels: { 'managed-by': 'exollama', 'exollama-name': 'n' } },
          { id: 'b', labels: { 'managed-by': 'exollama', 'exollama-name': 'other' } },
          { id: 'c' },
        ],
      }),
    ])
    const found = await client.listInstances({
      labels: { 'managed-by': 'exollama', 'exollama-name': 'n' },
    })
    expect(found.map((i) => i.id)).toEqual(['a'])
  })

  it('finds a template in public first, then private, newest wins', async () => {
    const { client, calls } = setup([
      json(200, { templates: [{ id: 'p1', name: 'Other', 'created-at': '2025-01-01T00:00:00Z' }] }),
      json(200, {
        templates: [
          { id: 'v1', name: 'Mine', 'created-at': '2025-01-01T00:00:00Z' },
          { id: 'v2', name: 'Mine', 'created-at': '2025-02-01T00:00:00Z' },
        ],
      }),
    ])
    expect((await client.findTemplate('Mine')).id).toBe('v2')
    expect(calls.map((c) => c.url.search)).toEqual(['?visibility=public', '?visibility=private'])
  })

  it('stops at public when it has the name', async () => {
    const { client, calls } = setup([
      json(200, { templates: [{ id: 'p1', name: 'Mine' }] }),
      json(200, { templates: [{ id: 'v1', name: 'Mine' }] }),
    ])
    expect((await client.findTemplate('Mine')).id).toBe('p1')
    expect(calls).toHaveLength(1)
  })

  it('lists the names seen when no template matches', async () => {
    const { client } = setup([
      json(200, { templates: [{ id: 'p1', name: 'Public One' }] }),
      json(200, { templates: [{ id: 'v1', name: 'Private One' }] }),
    ])
    const e = await failure(client.findTemplate('Missing'))
    expect(e.code).toBe('exoscale_not_found')
    expect(e.message).toContain('"Private One", "Public One"')
  })

  it('finds an instance type in the zone', async () => {
    const { client } = setup([
      json(200, {
        'instance-types': [
          { id: 'g', family: 'gpua5000', size: 'small', authorized: true, zones: ['at-vie-2'] },
          { id: 's', family: 'standard', size: 'medium', authorized: true, zones: ['ch-gva-2'] },
        ],
      }),
    ])
    expect((await client.findInstanceType('medium')).id).toBe('s')
    expect((await failure(client.findInstanceType('gpua5000.small'))).code).toBe(
      'exoscale_not_found',
    )
  })
})

describe('options', () => {
  it('makes at least one attempt whatever retry.maxAttempts says', async () => {
    const { client, calls } = setup([json(503, {})], { retry: { maxAttempts: 0 } })
    expect((await failure(client.listQuotas())).code).toBe('exoscale_server_error')
    expect(calls).toHaveLength(1)
  })
})
