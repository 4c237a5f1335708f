import { describe, expect, it } from 'vitest'
import { ManualClock, silentLogger } from '../shared/index.js'
import { openStore } from '../store/index.js'
import { LeaseGuard } from './lease-guard.js'

function guards() {
  const clock = new ManualClock()
  const store = openStore({ path: ':memory:', clock })
  const make = (owner: string) =>
    new LeaseGuard({
      store,
      lease: 'provisioner:exollama',
      owner,
      clock,
      logger: silentLogger,
      ttlMs: 30_000,
      pollMs: 250,
    })
  return { clock, store, a: make('a'), b: make('b') }
}

describe('LeaseGuard', () => {
  it('holds the store lease while running, renews it past its TTL, and releases it after', async () => {
    const { clock, store, a } = guards()
    let release!: () => void
    const run = a.run(async (fence) => {
      expect(store.leases.current('provisioner:exollama')?.owner).toBe('a')
      await new Promise<void>((r) => (release = r))
      return fence.fencing
    })
    await clock.advance(0)
    await clock.advance(90_000) // three TTLs: only renewals keep it
    expect(store.leases.current('provisioner:exollama')?.owner).toBe('a')
    release()
    expect(await run).toBe(1)
    expect(store.leases.current('provisioner:exollama')).toBeNull()
  })

  it('another process waits for the lease; tryRun skips instead of waiting', async () => {
    const { clock, a, b } = guards()
    const order: string[] = []
    let release!: () => void
    const first = a.run(async () => {
      order.push('a')
      await new Promise<void>((r) => (release = r))
    })
    await clock.advance(0)
    expect(await b.tryRun(async () => order.push('b try'))).toBeUndefined()
    const second = b.run(async (fence) => {
      order.push('b')
      return fence.fencing
    })
    await clock.advance(1_000)
    expect(order).toEqual(['a'])
    release()
    await first
    await clock.advance(250)
    expect(await second).toBe(2) // a new holder gets a new fencing number
    expect(order).toEqual(['a', 'b'])
  })

  it('gives up with lease_busy after waitMs, naming the holder', async () => {
    const { clock, a, b } = guards()
    const held = a.run(() => new Promise<void>(() => {}))
    void held
    await clock.advance(0)
    const waiting = b.run(async () => 'never', { waitMs: 2_000 })
    const outcome = waiting.catch((e: unknown) => e)
    await clock.advance(2_500)
    expect(await outcome).toMatchObject({ code: 'lease_busy', kind: 'timeout' })
    expect(((await outcome) as Error).message).toContain('(a)')
  })
})
