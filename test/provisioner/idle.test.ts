import { afterEach, describe, expect, it } from 'vitest'
import type { Provisioner, ProvisionerSettings } from '../../src/provisioner/index.js'
import { ManualClock } from '../../src/shared/index.js'
import {
  drive,
  eventually,
  liveInstances,
  startHarness,
  TEST_SETTINGS,
  type Harness,
} from './helpers/harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

async function readyProvisioner(
  settings: Partial<ProvisionerSettings>,
): Promise<{ p: Provisioner; clock: ManualClock; instanceId: string }> {
  h = await startHarness()
  const clock = new ManualClock(Date.now())
  const p = h.provisioner({
    clock,
    settings: { ...TEST_SETTINGS, wakeTimeoutS: 600, ...settings },
  })
  const ready = await drive(clock, p.ensureReady({ reason: 'test' }))
  if (!ready) throw new Error('not ready')
  return { p, clock, instanceId: ready.instance.id }
}

/** Deleted: gone, or on its way out (the API shows `destroying` for a moment). */
function isGone(id: string): boolean {
  const instance = h.sim.state.instance(id)
  return instance === undefined || instance.state === 'destroying'
}

function eventAt(type: string): number | undefined {
  return h.events().find((e) => e.type === type)?.ts
}

describe('idle policy (ManualClock)', () => {
  it('a 10-minute stream with a 1-minute idle timeout is not cut; the destroy comes at the deadline after it ends', async () => {
    const { p, clock, instanceId } = await readyProvisioner({ idleTimeoutS: 60 })
    const end = p.activity.begin()
    for (let minute = 0; minute < 10; minute++) await clock.advance(60_000)
    expect(p.state()).toBe('ready')
    expect(h.calls('delete-instance')).toBe(0)
    expect(p.snapshot().idle.remaining_s).toBeNull() // nothing counts down while busy

    end()
    const endedAt = clock.now()
    await clock.advance(30_000)
    expect(p.snapshot().idle.remaining_s).toBe(30)
    await clock.advance(29_999)
    expect(p.state()).toBe('ready')
    expect(h.calls('delete-instance')).toBe(0)
    await clock.advance(1)
    await eventually(() => p.state() === 'absent', 'the idle destroy')

    const deadline = endedAt + 60_000
    expect(eventAt('idle')).toBe(deadline)
    const destroyAt = eventAt('destroy') ?? Infinity
    expect(destroyAt - deadline).toBeLessThanOrEqual(5_000)
    expect(h.calls('delete-instance')).toBe(1)
    expect(isGone(instanceId)).toBe(true)
    expect(h.store.instances.get('exollama')).toBeNull()
    expect(p.snapshot()).toMatchObject({ state: 'absent', instance: null })
    const idle = h.events().find((e) => e.type === 'idle')
    expect(idle?.actor).toBe('idle timer')
    expect(idle?.reason).toContain('idle for 60 s')
  })

  it('each new request restarts the idle period from the end of the last one', async () => {
    const { p, clock } = await readyProvisioner({ idleTimeoutS: 60 })
    for (let i = 0; i < 5; i++) {
      await clock.advance(50_000)
      const end = p.activity.begin()
      await clock.advance(1_000)
      end()
    }
    expect(p.state()).toBe('ready')
    await clock.advance(59_999)
    expect(h.calls('delete-instance')).toBe(0)
    await clock.advance(1)
    await eventually(() => p.state() === 'absent', 'the idle destroy')
  })

  it('small idle timeouts (20 s) work, and the state reads absent afterwards', async () => {
    const { p, clock } = await readyProvisioner({ idleTimeoutS: 20 })
    await clock.advance(20_000)
    await eventually(() => p.state() === 'absent', 'the idle destroy')
    expect((await p.status()).state).toBe('absent')
    expect(liveInstances(h.sim)).toEqual([])
  })

  it('stop mode: idle powers off (state stopped), then destroys after EXOLLAMA_DESTROY_AFTER', async () => {
    const { p, clock, instanceId } = await readyProvisioner({
      idleTimeoutS: 60,
      idleAction: 'stop',
      destroyAfterS: 3600,
    })
    await clock.advance(60_000)
    await eventually(() => p.state() === 'stopped', 'the idle stop')
    expect(h.sim.state.instance(instanceId)?.state).toBe('stopped')
    expect(h.calls('stop-instance')).toBe(1)
    expect(h.calls('delete-instance')).toBe(0)
    expect((await p.status()).state).toBe('stopped')
    expect(h.store.usage.openSessions()).toEqual([])

    await clock.advance(3_599_000)
    expect(h.calls('delete-instance')).toBe(0)
    await clock.advance(1_000)
    await eventually(() => p.state() === 'absent', 'the destroy-after')
    expect(isGone(instanceId)).toBe(true)
    const destroy = h.events().find((e) => e.type === 'destroy')
    expect(destroy?.reason).toContain('EXOLLAMA_DESTROY_AFTER')
  })

  it('max lifetime: destroyed at created + EXOLLAMA_MAX_LIFETIME even with a stream open', async () => {
    const { p, clock, instanceId } = await readyProvisioner({ idleTimeoutS: 60, maxLifetimeS: 300 })
    const record = h.store.instances.get('exollama')
    expect(record).not.toBeNull()
    const end = p.activity.begin()
    const limit = (record?.createdAt ?? 0) + 300_000
    await clock.advance(limit - clock.now() - 1)
    expect(h.calls('delete-instance')).toBe(0)
    await clock.advance(1)
    await eventually(() => p.state() === 'absent', 'the lifetime destroy')
    expect(isGone(instanceId)).toBe(true)
    expect(eventAt('lifetime')).toBe(limit)
    end()
  })

  it('a request that arrives while the idle destroy runs waits for it and gets a new instance', async () => {
    const { p, clock, instanceId } = await readyProvisioner({ idleTimeoutS: 60 })
    // A slow delete keeps the instance in `destroying` while the request comes in.
    h.sim.faults.slowOperations(400, { match: { operationId: 'delete-instance' } })
    await clock.advance(60_000)
    await eventually(() => p.state() === 'destroying', 'the idle destroy to start')
    const end = p.activity.begin()
    const again = await drive(clock, p.ensureReady({ reason: 'late request' }))
    end()
    expect(again?.instance.id).not.toBe(instanceId)
    expect(h.calls('create-instance')).toBe(2)
    expect(liveInstances(h.sim).map((i) => i.id)).toEqual([again?.instance.id])
    expect(p.state()).toBe('ready')
  })

  it('an instance someone else is already deleting counts as destroyed (a 409 is not a failure)', async () => {
    const { p, clock, instanceId } = await readyProvisioner({ idleTimeoutS: 60 })
    h.sim.faults.slowOperations(2_000, { match: { operationId: 'delete-instance' } })
    await h.client.deleteInstance(instanceId) // e.g. from the Exoscale portal
    expect(h.sim.state.instance(instanceId)?.state).toBe('destroying')
    await clock.advance(60_000)
    await eventually(() => p.state() === 'absent', 'the idle destroy')
    expect(h.events().some((e) => e.type === 'error')).toBe(false)
    expect(h.store.instances.get('exollama')).toBeNull()
  })
})
