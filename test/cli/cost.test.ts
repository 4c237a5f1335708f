import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/shared/index.js'
import { openStore } from '../../src/store/index.js'
import { hasAnsi, oneJsonObject, runCli, sandbox, type Sandbox } from './helpers/harness.js'

let box: Sandbox
let clock: ManualClock
let keyId: string
const H = 3_600_000
const at = (month: number, day: number, hour: number) => Date.UTC(2026, month - 1, day, hour)
const t = (y: number, m: number, d: number, h: number) => Date.UTC(y, m - 1, d, h)

/** A ledger: Dec 31 22:00 → Jan 1 02:00 medium, Jan 10 10–13 GPU, and a medium running since 11:00 today. */
function seed(): void {
  const store = openStore({ dataDir: box.dataDir, clock })
  try {
    const { usage, requests, apiKeys } = store
    usage.startSession({
      instanceId: 'i-1',
      instanceType: 'standard.medium',
      startedAt: t(2025, 12, 31, 22),
    })
    usage.endSession('i-1', at(1, 1, 2))
    usage.startSession({
      instanceId: 'i-2',
      instanceType: 'gpua5000.small',
      startedAt: at(1, 10, 10),
    })
    usage.endSession('i-2', at(1, 10, 13))
    usage.startSession({
      instanceId: 'i-3',
      instanceType: 'standard.medium',
      startedAt: at(1, 15, 11),
    })
    keyId = apiKeys.create({ name: 'laptop' }).record.id
    const base = { route: '/api/chat', model: 'qwen2.5:0.5b', status: 200, durationMs: 100 }
    requests.record({ ...base, ts: at(1, 5, 9), keyId, promptTokens: 10, evalTokens: 20 })
    requests.record({ ...base, ts: at(1, 14, 9), keyId, promptTokens: 5, evalTokens: 7 })
    requests.record({ ...base, ts: at(1, 14, 10), keyId: null, promptTokens: 1, evalTokens: 2 })
    requests.record({ ...base, ts: t(2025, 12, 20, 9), keyId, promptTokens: 100, evalTokens: 200 })
  } finally {
    store.close()
  }
}

beforeEach(() => {
  box = sandbox()
  clock = new ManualClock(at(1, 15, 12))
  seed()
})
afterEach(() => box.cleanup())

describe('cost', () => {
  it('reports hours and money by day and type, this month and in total, and requests by key', async () => {
    const r = await runCli(box, ['cost', '--json'], { clock })
    expect(r.code, r.stderr).toBe(0)
    const json = oneJsonObject(r.stdout)
    expect(json.currency).toBe('CHF')
    expect(json.current).toEqual({
      instance_id: 'i-3',
      instance_type: 'standard.medium',
      started_at: '2026-01-15T11:00:00.000Z',
      running_ms: H,
      cost: 0.04666,
    })
    expect(json.month).toEqual({
      from_day: '2026-01-01',
      to_day: '2026-01-15',
      running_ms: 6 * H,
      hours: 6,
      cost: 4.16082,
      by_type: [
        { instance_type: 'gpua5000.small', running_ms: 3 * H, hours: 3, cost: 4.02084 },
        { instance_type: 'standard.medium', running_ms: 3 * H, hours: 3, cost: 0.13998 },
      ],
      by_day: [
        {
          day: '2026-01-01',
          instance_type: 'standard.medium',
          running_ms: 2 * H,
          hours: 2,
          cost: 0.09332,
        },
        {
          day: '2026-01-10',
          instance_type: 'gpua5000.small',
          running_ms: 3 * H,
          hours: 3,
          cost: 4.02084,
        },
        {
          day: '2026-01-15',
          instance_type: 'standard.medium',
          running_ms: H,
          hours: 1,
          cost: 0.04666,
        },
      ],
    })
    expect(json.total).toMatchObject({
      running_ms: 8 * H,
      cost: 4.25414,
      by_type: [
        { instance_type: 'gpua5000.small', hours: 3, cost: 4.02084 },
        { instance_type: 'standard.medium', hours: 5, cost: 0.2333 },
      ],
    })
    expect(json.requests).toEqual({
      month: {
        requests: 3,
        prompt_tokens: 16,
        eval_tokens: 29,
        by_key: [
          { key_id: keyId, name: 'laptop', requests: 2, prompt_tokens: 15, eval_tokens: 27 },
          { key_id: null, name: null, requests: 1, prompt_tokens: 1, eval_tokens: 2 },
        ],
      },
      total: {
        requests: 4,
        prompt_tokens: 116,
        eval_tokens: 229,
        by_key: [
          { key_id: keyId, name: 'laptop', requests: 3, prompt_tokens: 115, eval_tokens: 227 },
          { key_id: null, name: null, requests: 1, prompt_tokens: 1, eval_tokens: 2 },
        ],
      },
    })
  })

  it('follows the clock: the running session keeps adding time', async () => {
    await clock.advance(2 * H)
    const json = oneJsonObject((await runCli(box, ['cost', '--json'], { clock })).stdout)
    expect(json.current).toMatchObject({ running_ms: 3 * H, cost: 0.13998 })
    expect((json.month as { running_ms: number }).running_ms).toBe(8 * H)
  })

  it('uses EXOLLAMA_PRICE_PER_HOUR for the configured type and EXOLLAMA_CURRENCY', async () => {
    const r = await runCli(box, ['cost', '--json'], {
      clock,
      env: { EXOLLAMA_PRICE_PER_HOUR: '0.1', EXOLLAMA_CURRENCY: 'EUR' },
    })
    const json = oneJsonObject(r.stdout)
    expect(json.currency).toBe('EUR')
    expect(json.total).toMatchObject({
      by_type: [
        { instance_type: 'gpua5000.small', cost: 4.02084 },
        { instance_type: 'standard.medium', cost: 0.5 },
      ],
    })
  })

  it('prints tables for people', async () => {
    const r = await runCli(box, ['cost'], { clock })
    expect(r.code).toBe(0)
    expect(hasAnsi(r.stdout)).toBe(false)
    const lines = r.stdout.split('\n')
    expect(lines).toContain('current instance  standard.medium, running 1h 00m, CHF 0.0467 so far')
    expect(r.stdout).toMatch(/2026-01-10\s+gpua5000\.small\s+3\.00\s+CHF 4\.02\n/)
    expect(r.stdout).toMatch(/2026-01-01\s+standard\.medium\s+2\.00\s+CHF 0\.0933\n/)
    expect(r.stdout).toMatch(/In total by instance type\n(.*\n){3}\s+total\s+8\.00\s+CHF 4\.25\n/)
    expect(r.stdout).toMatch(new RegExp(`${keyId}\\s+laptop\\s+2 / 3\\s+15 / 115\\s+27 / 227`))
    expect(r.stdout).toMatch(/\(no key\)\s+local clients\s+1 \/ 1/)
  })

  it('says so when there is nothing yet', async () => {
    const empty = sandbox()
    try {
      const r = await runCli(empty, ['cost'], { clock })
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('current instance  none running')
      expect(r.stdout).toContain('no running time this month')
      expect(r.stdout).toContain('no requests recorded')
    } finally {
      empty.cleanup()
    }
  })
})
