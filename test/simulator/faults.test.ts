import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { call } from './helpers/api.js'
import {
  OP_DELAY,
  TRANSITION,
  createBody,
  createInstance,
  startHarness,
  type SimHarness,
} from './helpers/setup.js'

let h: SimHarness
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  await h.sim.close()
})

const opState = async (id: string, target = h.target) =>
  (await call(target, 'GET', `/operation/${id}`)).json

describe('request faults', () => {
  it('answers 429 with Retry-After N times, then normally', async () => {
    const fault = h.sim.faults.rateLimit({ times: 2, retryAfter: 7 })
    for (let i = 0; i < 2; i++) {
      const res = await h.call('GET', '/instance')
      expect(res.status).toBe(429)
      expect(res.headers['retry-after']).toBe('7')
      expect(res.json.message).toBeTypeOf('string')
    }
    expect((await h.call('GET', '/instance')).status).toBe(200)
    expect(fault.hits).toBe(2)
    expect(fault.active).toBe(false)
    expect(h.sim.requests.map((r) => r.fault ?? '-')).toEqual(['rate-limit', 'rate-limit', '-'])
  })

  it('passes an HTTP-date Retry-After through', async () => {
    h.sim.faults.rateLimit({ retryAfter: 'Wed, 21 Oct 2026 07:28:00 GMT' })
    expect((await h.call('GET', '/instance')).headers['retry-after']).toBe(
      'Wed, 21 Oct 2026 07:28:00 GMT',
    )
  })

  it('answers 500/502/503 only for the matching method and path, nothing happening meanwhile', async () => {
    const body = await createBody(h.target)
    h.sim.faults.serverError({ status: 500, match: { method: 'POST', path: '/instance' } })
    h.sim.faults.serverError({ status: 502, match: { operationId: 'list-instances' } })
    h.sim.faults.serverError({
      status: 503,
      match: { path: /^\/template/ },
      body: 'text',
      retryAfter: 3,
    })
    expect((await h.call('GET', '/quota')).status).toBe(200)
    const post = await h.call('POST', '/instance', { body })
    expect(post.status).toBe(500)
    expect(post.json).toEqual({ message: expect.any(String) })
    expect(h.sim.state.instances()).toEqual([])
    expect((await h.call('GET', '/instance')).status).toBe(502)
    const text = await h.call('GET', '/template', { query: { visibility: 'public' } })
    expect(text.status).toBe(503)
    expect(text.headers['content-type']).toBe('text/plain')
    expect(text.headers['retry-after']).toBe('3')
    expect(text.text).toBe('service unavailable')
    expect((await h.call('POST', '/instance', { body })).status).toBe(200)
  })

  it('can answer a 5xx as RFC 9457 problem details', async () => {
    h.sim.faults.serverError({ status: 500, body: 'problem' })
    const res = await h.call('GET', '/instance')
    expect(res.status).toBe(500)
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.json).toMatchObject({
      status: 500,
      title: expect.any(String),
      detail: expect.any(String),
    })
  })

  it('can answer a 5xx with an empty body', async () => {
    h.sim.faults.serverError({ status: 504, body: 'empty' })
    const res = await h.call('GET', '/instance')
    expect(res.status).toBe(504)
    expect(res.text).toBe('')
  })

  it('lost response: the create happens but the answer is 502', async () => {
    h.sim.faults.lostResponse({ match: { operationId: 'create-instance' } })
    const res = await createInstance(h.target, { labels: { 'exollama-intent': 'abc' } })
    expect(res.status).toBe(502)
    const list = await h.call('GET', '/instance', { query: { labels: 'exollama-intent=abc' } })
    expect(list.json.instances).toHaveLength(1)
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect(h.sim.state.instances()[0]?.state).toBe('running')
  })

  it('resets the connection before handling (no effect) or after (effect)', async () => {
    h.sim.faults.connectionReset({ match: { operationId: 'create-instance' } })
    await expect(createInstance(h.target)).rejects.toThrow(/ECONNRESET|socket hang up/)
    expect(h.sim.state.instances()).toEqual([])
    h.sim.faults.connectionReset({ when: 'after', match: { operationId: 'create-instance' } })
    await expect(createInstance(h.target)).rejects.toThrow(/ECONNRESET|socket hang up/)
    expect(h.sim.state.instances()).toHaveLength(1)
    expect(
      h.sim.requests.filter((r) => r.operationId === 'create-instance').map((r) => r.status),
    ).toEqual([0, 0])
    expect((await createInstance(h.target)).status).toBe(200)
  })

  it('clears every fault at once', async () => {
    h.sim.faults.rateLimit({ times: Infinity })
    h.sim.faults.serverError({ times: Infinity })
    h.sim.faults.quota('instance', 0)
    expect(h.sim.faults.list()).toHaveLength(3)
    h.sim.faults.clear()
    expect(h.sim.faults.list()).toEqual([])
    expect((await createInstance(h.target)).status).toBe(200)
  })
})

describe('operation faults', () => {
  it('fails the next matching operation with reason and message, rolling back the create', async () => {
    h.sim.faults.failOperation({
      reason: 'fault',
      message: 'Hypervisor error',
      match: { operationId: 'create-instance' },
    })
    const res = await createInstance(h.target)
    expect(res.status).toBe(200)
    await h.clock.advance(OP_DELAY)
    expect(await opState(res.json.id)).toMatchObject({
      state: 'failure',
      reason: 'fault',
      message: 'Hypervisor error',
    })
    expect((await h.call('GET', `/instance/${res.json.reference.id}`)).status).toBe(404)
    const next = await createInstance(h.target)
    await h.clock.advance(OP_DELAY)
    expect((await opState(next.json.id)).state).toBe('success')
  })

  it('can leave the instance behind in state error, and can time out instead', async () => {
    h.sim.faults.failOperation({
      instanceState: 'error',
      match: { operationId: 'create-instance' },
    })
    const res = await createInstance(h.target)
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect((await h.call('GET', `/instance/${res.json.reference.id}`)).json.state).toBe('error')
    h.sim.faults.failOperation({ state: 'timeout', reason: 'unknown', match: { method: 'PUT' } })
    const other = await createInstance(h.target)
    await h.clock.advance(OP_DELAY + TRANSITION)
    const stop = await h.call('PUT', `/instance/${other.json.reference.id}:stop`)
    await h.clock.advance(OP_DELAY)
    expect(await opState(stop.json.id)).toMatchObject({ state: 'timeout', reason: 'unknown' })
    expect((await h.call('GET', `/instance/${other.json.reference.id}`)).json.state).toBe('running')
  })

  it('capacity: the create operation ends failure, reason unavailable, with the exact message', async () => {
    const vie = h.zone('at-vie-2')
    h.sim.faults.capacity('gpua5000.small', { zone: 'at-vie-2' })
    const res = await createInstance(vie, {}, 'gpua5000.small')
    expect(res.status).toBe(200)
    await h.clock.advance(OP_DELAY)
    expect(await opState(res.json.id, vie)).toEqual({
      id: res.json.id,
      state: 'failure',
      reason: 'unavailable',
      message: 'Insufficient capacity for gpua5000.small in at-vie-2',
      reference: res.json.reference,
    })
    expect((await call(vie, 'GET', `/instance/${res.json.reference.id}`)).status).toBe(404)
    expect((await h.call('GET', '/quota/gpua5000')).json.usage).toBe(0)
    // Other types and zones are unaffected.
    const medium = await createInstance(vie, {}, 'gpua5000.medium')
    await h.clock.advance(OP_DELAY)
    expect((await opState(medium.json.id, vie)).state).toBe('success')
  })

  it('capacity also fails the start of a stopped instance of that type', async () => {
    const vie = h.zone('at-vie-2')
    const res = await createInstance(vie, {}, 'gpua5000.small')
    const id = res.json.reference.id as string
    await h.clock.advance(OP_DELAY + TRANSITION)
    await call(vie, 'PUT', `/instance/${id}:stop`)
    await h.clock.advance(OP_DELAY + TRANSITION)
    const fault = h.sim.faults.capacity('gpua5000.small')
    const start = await call(vie, 'PUT', `/instance/${id}:start`, { body: {} })
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect(await opState(start.json.id, vie)).toMatchObject({
      state: 'failure',
      reason: 'unavailable',
    })
    expect((await call(vie, 'GET', `/instance/${id}`)).json.state).toBe('stopped')
    fault.remove()
    const again = await call(vie, 'PUT', `/instance/${id}:start`, { body: {} })
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect((await opState(again.json.id, vie)).state).toBe('success')
    expect((await call(vie, 'GET', `/instance/${id}`)).json.state).toBe('running')
  })

  it('slows matching operations down, or keeps them pending forever', async () => {
    h.sim.faults.slowOperations(10_000, { match: { operationId: 'create-instance' }, times: 1 })
    const slow = await createInstance(h.target)
    await h.clock.advance(OP_DELAY)
    expect((await opState(slow.json.id)).state).toBe('pending')
    await h.clock.advance(10_000)
    expect((await opState(slow.json.id)).state).toBe('success')

    h.sim.faults.slowOperations(Infinity)
    const stuck = await createInstance(h.target)
    await h.clock.advance(3_600_000)
    expect((await opState(stuck.json.id)).state).toBe('pending')
    expect((await h.call('GET', `/instance/${stuck.json.reference.id}`)).json.state).toBe(
      'starting',
    )
  })
})

describe('quota faults', () => {
  it('answers 403 "Quota exceeded for resource <r> (limit <n>)" and creates nothing', async () => {
    const q = h.sim.faults.quota('instance', 1)
    expect((await createInstance(h.target)).status).toBe(200)
    const res = await createInstance(h.target)
    expect(res.status).toBe(403)
    expect(res.json).toEqual({ message: 'Quota exceeded for resource instance (limit 1)' })
    expect(h.sim.state.instances()).toHaveLength(1)
    expect((await h.call('GET', '/quota/instance')).json).toEqual({
      resource: 'instance',
      usage: 1,
      limit: 1,
    })
    q.remove()
    expect((await createInstance(h.target)).status).toBe(200)
  })

  it('applies the total gpu quota across families and zones', async () => {
    h.sim.faults.quota('gpu', 3)
    const vie = h.zone('at-vie-2')
    expect((await createInstance(vie, {}, 'gpua5000.medium')).status).toBe(200)
    const res = await createInstance(h.zone('de-fra-1'), {}, 'gpu3.medium')
    expect(res.status).toBe(403)
    expect(res.json.message).toBe('Quota exceeded for resource gpu (limit 3)')
    expect((await createInstance(vie, {}, 'gpu3080ti.small')).status).toBe(200)
  })
})
