import { afterEach, describe, expect, it } from 'vitest'
import { memoryStore } from './store.test-helper.js'
import type { Store } from './index.js'
import type { ManualClock } from '../shared/index.js'

let store: Store
let clock: ManualClock
afterEach(() => store?.close())

function setup() {
  ;({ store, clock } = memoryStore())
}

describe('leases', () => {
  it('grant a free lease with fencing 1 and refuse a second owner while it is live', () => {
    setup()
    const a = store.leases.acquire('provisioner', 'gw-a', 30_000)
    expect(a).toMatchObject({ name: 'provisioner', owner: 'gw-a', fencing: 1 })
    expect(a?.expiresAt).toBe(clock.now() + 30_000)
    expect(store.leases.acquire('provisioner', 'gw-b', 30_000)).toBeNull()
    expect(store.leases.current('provisioner')?.owner).toBe('gw-a')
  })

  it('let the holder re-acquire (extending, same fencing) and renew', async () => {
    setup()
    const first = store.leases.acquire('p', 'gw-a', 10_000)!
    await clock.advance(5_000)
    const again = store.leases.acquire('p', 'gw-a', 10_000)!
    expect(again.fencing).toBe(first.fencing)
    expect(again.expiresAt).toBe(clock.now() + 10_000)
    await clock.advance(9_000)
    const renewed = store.leases.renew({ lease: 'p', owner: 'gw-a', fencing: 1 }, 10_000)
    expect(renewed?.expiresAt).toBe(clock.now() + 10_000)
    expect(store.leases.holds({ lease: 'p', owner: 'gw-a', fencing: 1 })).toBe(true)
  })

  it('hand an expired lease to the next owner with a higher fencing number', async () => {
    setup()
    store.leases.acquire('p', 'gw-a', 10_000)
    await clock.advance(10_000)
    expect(store.leases.current('p')).toBeNull()
    expect(store.leases.holds({ lease: 'p', owner: 'gw-a', fencing: 1 })).toBe(false)
    const b = store.leases.acquire('p', 'gw-b', 10_000)
    expect(b?.fencing).toBe(2)
    // The old holder can no longer renew or release it.
    expect(store.leases.renew({ lease: 'p', owner: 'gw-a', fencing: 1 }, 10_000)).toBeNull()
    expect(store.leases.release({ lease: 'p', owner: 'gw-a', fencing: 1 })).toBe(false)
    expect(store.leases.current('p')?.owner).toBe('gw-b')
  })

  it('allow a late renewal when nobody took the lease in between', async () => {
    setup()
    store.leases.acquire('p', 'gw-a', 1_000)
    await clock.advance(5_000)
    expect(store.leases.renew({ lease: 'p', owner: 'gw-a', fencing: 1 }, 1_000)?.fencing).toBe(1)
    expect(store.leases.current('p')?.owner).toBe('gw-a')
  })

  it('never reuse a fencing number, even after release', () => {
    setup()
    const seen: number[] = []
    for (const owner of ['a', 'b', 'a', 'c']) {
      const lease = store.leases.acquire('p', owner, 1_000)!
      seen.push(lease.fencing)
      expect(store.leases.release({ lease: 'p', owner, fencing: lease.fencing })).toBe(true)
      expect(store.leases.current('p')).toBeNull()
    }
    expect(seen).toEqual([1, 2, 3, 4])
    expect(store.leases.acquire('other', 'a', 1_000)?.fencing).toBe(1)
  })

  it('reject a non-positive TTL and an empty owner', () => {
    setup()
    expect(() => store.leases.acquire('p', 'a', 0)).toThrow(/TTL must be positive/)
    expect(() => store.leases.acquire('p', '', 1000)).toThrow(/owner is required/)
  })
})
