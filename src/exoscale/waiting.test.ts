import { describe, expect, it } from 'vitest'
import { ManualClock, Secret } from '../shared/index.js'
import { createExoscaleClient } from './client.js'
import { isExoscaleError, type ExoscaleError } from './errors.js'
import { json, networkError, scriptedFetch, settle, type Step } from './fake-fetch.test-helper.js'
import type { Operation } from './schema-types.js'

const ID = '22222222-2222-4222-8222-222222222222'
const pending: Operation = {
  id: ID,
  state: 'pending',
  reference: { id: 'i1', command: 'create-instance' },
}

function setup(steps: Step[], pollIntervalMs?: number) {
  const clock = new ManualClock(0)
  const { fetch, calls } = scriptedFetch(...steps)
  const client = createExoscaleClient({
    apiKey: 'EXOk',
    apiSecret: new Secret('s'),
    zone: 'ch-gva-2',
    fetch,
    clock,
    random: () => 0,
    // One attempt per poll, so the tests count polls, not HTTP retries.
    retry: { maxAttempts: 1 },
    ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
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

describe('waitForOperation', () => {
  it('returns a finished operation without polling', async () => {
    const { client, calls } = setup([])
    const op = { ...pending, state: 'success' as const }
    expect(await client.waitForOperation(op)).toBe(op)
    expect(calls).toHaveLength(0)
  })

  it('polls on the egoscale schedule until success', async () => {
    const pollTimes: number[] = []
    let n = 0
    const { client, clock } = setup([
      (call) => {
        pollTimes.push(clock.now())
        expect(call.url.pathname).toBe(`/v2/operation/${ID}`)
        return json(200, { ...pending, state: ++n < 14 ? 'pending' : 'success' })
      },
    ])
    const done = await settle(clock, client.waitForOperation(pending), 500)
    expect(done.state).toBe('success')
    expect(done.reference?.id).toBe('i1')
    const gaps = pollTimes.map((t, i) => t - (pollTimes[i - 1] ?? 0))
    // 3 s while under 30 s elapsed, then growing.
    expect(gaps.slice(0, 11)).toEqual(Array(11).fill(3000))
    expect(gaps[11]).toBeGreaterThan(3000)
    expect(gaps[12]).toBeGreaterThan(gaps[11] as number)
  })

  it('shrinks the schedule with pollIntervalMs', async () => {
    const pollTimes: number[] = []
    const { client, clock } = setup(
      [
        json(200, pending),
        () => (pollTimes.push(clock.now()), json(200, { ...pending, state: 'success' })),
      ],
      20,
    )
    await settle(clock, client.waitForOperation(pending), 5)
    expect(pollTimes).toEqual([40])
  })

  it('throws exoscale_operation_failed with the reason and message', async () => {
    const { client, clock } = setup([
      json(200, { ...pending, state: 'failure', reason: 'fault', message: 'hypervisor exploded' }),
    ])
    const e = await failure(settle(clock, client.waitForOperation(pending)))
    expect(e.code).toBe('exoscale_operation_failed')
    expect(e.message).toContain('reason fault: hypervisor exploded')
    expect(e.operation).toMatchObject({ id: ID, state: 'failure', reason: 'fault' })
  })

  it('throws exoscale_capacity_unavailable for an unavailable failure', async () => {
    const { client, clock } = setup([
      json(200, {
        ...pending,
        state: 'failure',
        reason: 'unavailable',
        message: 'Insufficient capacity for gpua5000.small in at-vie-2',
      }),
    ])
    expect((await failure(settle(clock, client.waitForOperation(pending)))).code).toBe(
      'exoscale_capacity_unavailable',
    )
  })

  it('throws exoscale_operation_timeout at the deadline, not later', async () => {
    const pollTimes: number[] = []
    const { client, clock } = setup([(_c) => (pollTimes.push(clock.now()), json(200, pending))])
    const e = await failure(settle(clock, client.waitForOperation(pending, { timeoutMs: 10_000 })))
    expect(e.code).toBe('exoscale_operation_timeout')
    expect(e.kind).toBe('timeout')
    expect(e.message).toContain(ID)
    expect(pollTimes).toEqual([3000, 6000, 9000])
    expect(clock.now()).toBe(10_000)
  })

  it('cuts a poll that outlives the deadline', async () => {
    const clock = new ManualClock(0)
    const hanging = createExoscaleClient({
      apiKey: 'k',
      apiSecret: new Secret('s'),
      zone: 'ch-gva-2',
      clock,
      fetch: (_i, init) =>
        new Promise((_r, reject) =>
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
        ),
    })
    const e = await failure(settle(clock, hanging.waitForOperation(pending, { deadline: 5000 })))
    expect(e.code).toBe('exoscale_operation_timeout')
    expect(clock.now()).toBe(5000)
  })

  it('tolerates 5 consecutive transient poll errors, not 6', async () => {
    const ok = json(200, { ...pending, state: 'success' })
    const five = Array.from({ length: 5 }, () => json(503, { message: 'down' }))
    const a = setup([...five, ok])
    expect((await settle(a.clock, a.client.waitForOperation(pending))).state).toBe('success')
    expect(a.calls).toHaveLength(6)

    const b = setup([...five, networkError(), ok])
    const e = await failure(settle(b.clock, b.client.waitForOperation(pending)))
    expect(e.code).toBe('exoscale_network')
    expect(b.calls).toHaveLength(6)
  })

  it('resets the error count after a good poll', async () => {
    const bad = json(503, {})
    const c = setup([
      bad,
      bad,
      bad,
      json(200, pending),
      bad,
      bad,
      bad,
      bad,
      bad,
      json(200, { ...pending, state: 'success' }),
    ])
    expect((await settle(c.clock, c.client.waitForOperation(pending))).state).toBe('success')
  })

  it('does not ride out a final error (404)', async () => {
    const { client, clock, calls } = setup([json(404, { message: 'Operation not found' })])
    expect((await failure(settle(clock, client.waitForOperation(pending)))).code).toBe(
      'exoscale_not_found',
    )
    expect(calls).toHaveLength(1)
  })

  it('stops when the signal aborts, with the signal reason, and polls no more', async () => {
    const { client, clock, calls } = setup([json(200, pending)])
    const controller = new AbortController()
    const p = client.waitForOperation(pending, { signal: controller.signal })
    await clock.advance(6000)
    expect(calls).toHaveLength(2)
    controller.abort(new Error('shutting down'))
    await expect(p).rejects.toThrow('shutting down')
    await clock.advance(60_000)
    expect(calls).toHaveLength(2)
    expect(clock.pendingCount).toBe(0)
  })
})

describe('waitForInstanceState', () => {
  it('polls the instance until it is in a wanted state', async () => {
    const { client, clock, calls } = setup([
      json(200, { id: 'i1', state: 'starting' }),
      json(200, { id: 'i1', state: 'starting' }),
      json(200, { id: 'i1', state: 'running', 'public-ip': '192.0.2.10' }),
    ])
    const inst = await settle(clock, client.waitForInstanceState('i1', ['running']))
    expect(inst['public-ip']).toBe('192.0.2.10')
    expect(calls.map((c) => c.url.pathname)).toEqual(Array(3).fill('/v2/instance/i1'))
  })

  it('fails fast when the instance enters error', async () => {
    const { client, clock } = setup([json(200, { id: 'i1', state: 'error' })])
    const e = await failure(settle(clock, client.waitForInstanceState('i1', ['running'])))
    expect(e.code).toBe('exoscale_operation_failed')
    expect(e.message).toContain('is error')
  })

  it('times out with the last state', async () => {
    const { client, clock } = setup([json(200, { id: 'i1', state: 'stopping' })])
    const e = await failure(
      settle(clock, client.waitForInstanceState('i1', ['stopped'], { timeoutMs: 7000 })),
    )
    expect(e.code).toBe('exoscale_operation_timeout')
    expect(e.message).toContain('still stopping')
  })

  it('waitForInstanceGone resolves on 404', async () => {
    const { client, clock } = setup([
      json(200, { id: 'i1', state: 'destroying' }),
      json(404, { message: 'not found' }),
    ])
    await settle(clock, client.waitForInstanceGone('i1'))
  })
})
