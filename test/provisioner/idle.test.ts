import { afterEach, describe, expect, it } from 'vitest'
import type { Provisioner, ProvisionerSettings } from '../../src/provisioner/index.js'
import { ManualClock } from '../../src/shared/index.js'
import {
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

/**
 * Moves the provisioner's ManualClock in small steps while real time passes for the simulator
 * and the fake VM, until `promise` settles. Timers on the manual clock fire at their deadline.
 */
async function drive<T>(clock: ManualClock, promise: Promise<T>, stepMs = 50): Promise<T> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  while (!settled) {
    await clock.advance(stepMs)
    await new Promise((r) => setTimeout(r, 2))
  }
  return promise
}

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
})
