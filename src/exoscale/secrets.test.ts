import { Writable } from 'node:stream'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createLogger, ManualClock, Secret } from '../shared/index.js'
import { createExoscaleClient, type ExoscaleClient } from './client.js'
import { EXOSCALE_ERROR_CODES, isExoscaleError, type ExoscaleError } from './errors.js'
import type { Operation } from './schema-types.js'
import { json, networkError, scriptedFetch, settle, type Step } from './fake-fetch.test-helper.js'

const CANARY = 'CANARY-7f3a9c-secret-do-not-leak'
const PENDING: Operation = { id: '33333333-3333-4333-8333-333333333333', state: 'pending' }

/** An API that echoes back everything it got, secrets included, in every error body. */
const echo =
  (status: number, message: string, headers: Record<string, string> = {}): Step =>
  (call) =>
    json(
      status,
      { message: `${message} (you sent ${call.headers.authorization} with ${CANARY})` },
      headers,
    )

interface Scenario {
  code: (typeof EXOSCALE_ERROR_CODES)[number]
  steps: Step[]
  run: (c: ExoscaleClient) => Promise<unknown>
}

const createBody = { 'disk-size': 10, 'instance-type': { id: 't' }, template: { id: 'x' } }

const scenarios: Scenario[] = [
  {
    code: 'exoscale_invalid_credentials',
    steps: [echo(403, 'Invalid request signature')],
    run: (c) => c.listInstances(),
  },
  { code: 'exoscale_not_found', steps: [echo(404, 'not found')], run: (c) => c.getInstance('x') },
  { code: 'exoscale_conflict', steps: [echo(409, 'busy')], run: (c) => c.stopInstance('x') },
  {
    code: 'exoscale_bad_request',
    steps: [echo(400, 'invalid')],
    run: (c) => c.createInstance(createBody),
  },
  {
    code: 'exoscale_quota_exceeded',
    steps: [echo(403, 'Quota exceeded for resource instance (limit 1)')],
    run: (c) => c.createInstance(createBody),
  },
  {
    code: 'exoscale_rate_limited',
    steps: [echo(429, 'slow down', { 'retry-after': '1' })],
    run: (c) => c.listQuotas(),
  },
  {
    code: 'exoscale_capacity_unavailable',
    steps: [
      json(200, {
        ...PENDING,
        state: 'failure',
        reason: 'unavailable',
        message: `Insufficient capacity ${CANARY}`,
      }),
    ],
    run: (c) => c.waitForOperation(PENDING),
  },
  { code: 'exoscale_server_error', steps: [echo(500, 'oops')], run: (c) => c.listZones() },
  {
    code: 'exoscale_network',
    steps: [networkError('ECONNRESET')],
    run: (c) => c.listTemplates(),
  },
  {
    code: 'exoscale_operation_failed',
    steps: [json(200, { ...PENDING, state: 'failure', reason: 'fault', message: CANARY })],
    run: (c) => c.waitForOperation(PENDING),
  },
  {
    code: 'exoscale_operation_timeout',
    steps: [json(200, PENDING)],
    run: (c) => c.waitForOperation(PENDING, { timeoutMs: 5000 }),
  },
]

describe('secrets never leak', () => {
  it('covers every error code', () => {
    expect(scenarios.map((s) => s.code).sort()).toEqual([...EXOSCALE_ERROR_CODES].sort())
  })

  const logLines: string[] = []
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk))
      cb()
    },
  })
  const logger = createLogger({ level: 'trace', destination })

  it.each(scenarios.map((s) => [s.code, s] as const))('%s', async (_code, s) => {
    const clock = new ManualClock(0)
    const { fetch, calls } = scriptedFetch(...s.steps)
    const client = createExoscaleClient({
      apiKey: 'EXOcanarykey',
      apiSecret: new Secret(CANARY),
      zone: 'ch-gva-2',
      fetch,
      clock,
      logger,
      random: () => 0,
      retry: { maxAttempts: 2 },
    })
    let error: ExoscaleError | undefined
    try {
      await settle(clock, s.run(client))
    } catch (e) {
      if (isExoscaleError(e)) error = e
      else throw e
    }
    expect(error?.code).toBe(s.code)
    const authorizations = calls.map((c) => c.headers.authorization).filter((a) => a !== undefined)
    const signatures = authorizations.map((a) => /signature=(\S+)$/.exec(a)?.[1] ?? '')
    const renderings = [
      String(error),
      error?.message ?? '',
      error?.stack ?? '',
      inspect(error, { depth: 20, showHidden: true }),
      JSON.stringify(error),
      JSON.stringify(error?.cause ?? null),
      inspect(client, { depth: 20, showHidden: true }),
      logLines.join(''),
    ]
    for (const text of renderings) {
      expect(text).not.toContain(CANARY)
      for (const a of authorizations) expect(text).not.toContain(a)
      for (const sig of signatures) expect(text).not.toContain(sig)
    }
  })

  it('logged something to check', () => {
    expect(logLines.join('')).toMatch(/exoscale request/)
  })
})
