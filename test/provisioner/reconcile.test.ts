import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock, Secret } from '../../src/shared/index.js'
import { testCertificate } from '../../src/store/store.test-helper.js'
import {
  eventually,
  FAST_TUNING,
  liveInstances,
  startHarness,
  TEST_SETTINGS,
  type Harness,
} from './helpers/harness.js'
import { seedInstance } from './helpers/seed.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const GRACE = 60_000
const TUNING = { ...FAST_TUNING, orphanGraceMs: GRACE, intentGraceMs: GRACE }

function deletes(): number {
  return h.calls('delete-instance')
}

describe('reconcile', () => {
  it('leaves a labelled instance it has no intent for alone during the grace period, then deletes it', async () => {
    h = await startHarness()
    const orphan = await seedInstance(h)
    const clock = new ManualClock(Date.now())
    const p = h.provisioner({ clock, tuning: TUNING })
    const first = await p.reconcile()
    expect(first.waiting).toEqual([orphan.id])
    expect(first.actions).toEqual([])
    expect(deletes()).toBe(0)

    await clock.advance(GRACE + 1_000)
    const second = await p.reconcile()
    expect(second.actions).toEqual([
      { kind: 'destroy', instanceId: orphan.id, why: 'orphan', ok: true },
    ])
    expect(deletes()).toBe(1)
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.calls('create-instance')).toBe(1) // the seed's own, nothing more
  })

  it('adopts a labelled instance whose intent the store holds, then resumes it to ready', async () => {
    h = await startHarness()
    const seeded = await seedInstance(h, { intent: true })
    const p = h.provisioner({ tuning: TUNING })
    const report = await p.reconcile()
    expect(report.keeper).toBe(seeded.id)
    expect(report.actions.map((a) => a.kind)).toEqual(['adopt'])
    const record = h.store.instances.get('exollama')
    expect(record?.instanceId).toBe(seeded.id)
    expect(record?.intentId).toBe(seeded.intent?.id)
    expect(record?.tlsCertPem).toBe(seeded.intent?.tlsCertPem)
    expect(h.store.intents.get(seeded.intent?.id ?? '')?.state).toBe('created')
    // The resume reaches ready with the adopted secrets, and idleness is managed from then on.
    await eventually(() => p.state() === 'ready', 'the resumed instance')
    expect(p.snapshot().idle.remaining_s).not.toBeNull()
    expect(h.calls('create-instance')).toBe(1)
    expect(h.events().some((e) => e.type === 'adopt')).toBe(true)
    expect(h.store.usage.openSessions().map((s) => s.instanceId)).toEqual([seeded.id])
  })

  it('marks a store record whose instance is gone (after a GET confirms it)', async () => {
    h = await startHarness()
    const { certPem, keyPem } = testCertificate('a')
    const missing = '0b0e5b56-5c1e-4a0e-9d6c-3f7a2d1e9c00'
    h.store.instances.save({
      name: 'exollama',
      instanceId: missing,
      zone: 'ch-gva-2',
      instanceType: 'standard.medium',
      template: 'Linux Ubuntu 22.04 LTS 64-bit',
      state: 'ready',
      createdAt: Date.now() - 60_000,
      tlsCertPem: certPem,
      secrets: { ollamaKey: new Secret('k'.repeat(20)), tlsKeyPem: new Secret(keyPem) },
    })
    h.store.usage.startSession({ instanceId: missing, instanceType: 'standard.medium' })
    const p = h.provisioner({ tuning: TUNING })
    expect(p.state()).toBe('ready') // what the store said, until the cloud is asked
    const report = await p.reconcile()
    expect(report.actions).toEqual([{ kind: 'mark-gone', instanceId: missing, ok: true }])
    expect(h.store.instances.get('exollama')).toBeNull()
    expect(h.store.usage.openSessions()).toEqual([])
    expect(p.state()).toBe('absent')
    const getCalls = h.sim.requests.filter(
      (r) => r.operationId === 'get-instance' && r.path.endsWith(missing),
    )
    expect(getCalls.length).toBeGreaterThanOrEqual(1)
    expect(deletes()).toBe(0)
  })

  it('does nothing at all when the list fails: zero deletes, zero creates, store untouched', async () => {
    h = await startHarness()
    const orphan = await seedInstance(h)
    const { certPem, keyPem } = testCertificate('a')
    h.store.instances.save({
      name: 'exollama',
      instanceId: '0b0e5b56-5c1e-4a0e-9d6c-3f7a2d1e9c00',
      zone: 'ch-gva-2',
      instanceType: 'standard.medium',
      template: 'Linux Ubuntu 22.04 LTS 64-bit',
      state: 'ready',
      createdAt: Date.now() - 60_000,
      tlsCertPem: certPem,
      secrets: { ollamaKey: new Secret('k'.repeat(20)), tlsKeyPem: new Secret(keyPem) },
    })
    const clock = new ManualClock(Date.now() + 10 * GRACE)
    const p = h.provisioner({ clock, tuning: TUNING })
    h.sim.faults.serverError({ status: 500, times: 100, match: { operationId: 'list-instances' } })
    const creates = h.calls('create-instance')
    const report = await p.reconcile()
    expect(report.skipped).toBe('list-failed')
    expect(report.error?.code).toBe('exoscale_server_error')
    expect(deletes()).toBe(0)
    expect(h.calls('create-instance')).toBe(creates)
    expect(h.sim.state.instance(orphan.id)?.state).toBe('running')
    expect(h.store.instances.get('exollama')).not.toBeNull()
    // And once the API answers again, the same round acts.
    h.sim.faults.clear()
    const next = await p.reconcile()
    expect(next.actions.map((a) => a.kind).sort()).toEqual(['destroy', 'mark-gone'])
  })

  it('keeps one of two instances it holds intents for and deletes the duplicate after the grace period', async () => {
    h = await startHarness()
    const a = await seedInstance(h, { intent: true })
    const b = await seedInstance(h, { intent: true })
    const expectedKeeper = [a, b]
      .map((x) => ({ id: x.id, at: h.sim.state.instance(x.id)?.createdAt ?? '' }))
      .sort((x, y) => x.at.localeCompare(y.at) || x.id.localeCompare(y.id))[0]?.id
    const clock = new ManualClock(Date.now() + GRACE + 5_000)
    const p = h.provisioner({ clock, tuning: TUNING })
    const report = await p.reconcile()
    expect(report.keeper).toBe(expectedKeeper)
    const duplicate = expectedKeeper === a.id ? b.id : a.id
    expect(report.actions).toContainEqual({
      kind: 'destroy',
      instanceId: duplicate,
      why: 'duplicate',
      ok: true,
    })
    expect(liveInstances(h.sim).map((i) => i.id)).toEqual([expectedKeeper])
    expect(h.store.instances.get('exollama')?.instanceId).toBe(expectedKeeper)
  })

  it('never adopts or deletes by name alone: an unlabelled "exollama" is left alone and a new one is made', async () => {
    h = await startHarness()
    const stranger = await seedInstance(h, { labels: {} })
    const lookalike = await seedInstance(h, {
      labels: { 'managed-by': 'someone-else', 'exollama-name': 'exollama' },
    })
    // Long past any grace period: still nothing may happen to instances that are not ours.
    const clock = new ManualClock(Date.now() + 10 * GRACE)
    const p = h.provisioner({ clock, tuning: TUNING })
    const report = await p.reconcile()
    expect(report.listed).toBe(0)
    expect(report.actions).toEqual([])
    const ready = await h.provisioner({ tuning: TUNING }).ensureReady()
    expect([stranger.id, lookalike.id]).not.toContain(ready.instance.id)
    expect(h.sim.state.instance(stranger.id)?.state).toBe('running')
    expect(h.sim.state.instance(lookalike.id)?.state).toBe('running')
  })

  it('an instance that powered itself off: destroyed in destroy mode, recorded stopped in stop mode', async () => {
    h = await startHarness()
    const p = h.provisioner({ tuning: TUNING })
    const ready = await p.ensureReady()
    expect(h.sim.powerOff(ready.instance.id)).toBe(true)
    const report = await p.reconcile()
    expect(report.actions).toEqual([
      { kind: 'destroy', instanceId: ready.instance.id, why: 'powered-off', ok: true },
    ])
    expect(liveInstances(h.sim)).toEqual([])
    expect(p.state()).toBe('absent')

    const q = h.provisioner({ settings: { ...TEST_SETTINGS, idleAction: 'stop' }, tuning: TUNING })
    const second = await q.ensureReady()
    h.sim.powerOff(second.instance.id)
    const report2 = await q.reconcile()
    expect(report2.actions).toEqual([
      { kind: 'mark-stopped', instanceId: second.instance.id, ok: true },
    ])
    expect(q.state()).toBe('stopped')
    expect(h.store.instances.get('exollama')?.state).toBe('stopped')
    expect(h.sim.state.instance(second.instance.id)?.state).toBe('stopped')
  })

  it('enforces the max lifetime from the instance’s created-at', async () => {
    h = await startHarness()
    const p1 = h.provisioner({ tuning: TUNING })
    const ready = await p1.ensureReady()
    await p1.close()
    const clock = new ManualClock(Date.now() + 86_400_000 + 1_000)
    const p2 = h.provisioner({ clock, tuning: TUNING })
    const report = await p2.reconcile()
    expect(report.actions).toContainEqual({
      kind: 'destroy',
      instanceId: ready.instance.id,
      why: 'max-lifetime',
      ok: true,
    })
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.store.instances.get('exollama')).toBeNull()
  })

  it('after a restart, a new provisioner resumes the running instance (ready, idle timer armed) without creating', async () => {
    h = await startHarness()
    const p1 = h.provisioner({ tuning: TUNING })
    const ready = await p1.ensureReady()
    await p1.close()
    const p2 = h.provisioner({ tuning: TUNING, background: true })
    await eventually(
      () => p2.state() === 'ready' && p2.snapshot().idle.remaining_s !== null,
      'the resumed instance',
    )
    const again = await p2.ensureReady()
    expect(again.instance.id).toBe(ready.instance.id)
    expect(h.calls('create-instance')).toBe(1)
  })

  it('carries on a destroy that a crash interrupted', async () => {
    h = await startHarness()
    const p1 = h.provisioner({ tuning: TUNING })
    const ready = await p1.ensureReady()
    await p1.close()
    h.store.instances.update('exollama', { state: 'destroying' })
    const p2 = h.provisioner({ tuning: TUNING })
    const report = await p2.reconcile()
    expect(report.actions).toEqual([
      { kind: 'destroy', instanceId: ready.instance.id, why: 'resume-destroy', ok: true },
    ])
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.store.instances.get('exollama')).toBeNull()
  })

  it('abandons a pending intent whose instance never appeared, after the intent grace', async () => {
    h = await startHarness()
    const lease = h.store.leases.acquire('seed', 'seed', 60_000)
    const fence = { lease: 'seed', owner: 'seed', fencing: lease?.fencing ?? 0 }
    const intent = h.store.intents.create(
      {
        name: 'exollama',
        zone: 'ch-gva-2',
        instanceType: 'standard.medium',
        template: 'Linux Ubuntu 22.04 LTS 64-bit',
      },
      fence,
    )
    const clock = new ManualClock(Date.now())
    const p = h.provisioner({ clock, tuning: TUNING })
    expect((await p.reconcile()).actions).toEqual([])
    await clock.advance(GRACE)
    expect((await p.reconcile()).actions).toEqual([{ kind: 'abandon-intent', ok: true }])
    expect(h.store.intents.get(intent.id)?.state).toBe('abandoned')
  })
})
