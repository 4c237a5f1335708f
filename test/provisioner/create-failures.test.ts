import { afterEach, describe, expect, it } from 'vitest'
import { liveInstances, startHarness, TEST_SETTINGS, type Harness } from './helpers/harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const CREATE = { operationId: 'create-instance' }

describe('create failures: never a blind retry', () => {
  it('a 502 on a create that did happen: exactly one POST, the instance is found by its intent label and adopted', async () => {
    h = await startHarness()
    h.sim.faults.lostResponse({ status: 502, match: CREATE })
    const p = h.provisioner()
    const ready = await p.ensureReady()
    expect(h.calls('create-instance')).toBe(1)
    const instances = liveInstances(h.sim)
    expect(instances.map((i) => i.id)).toEqual([ready.instance.id])
    // The label search came right after the failed POST, before anything else touched instances.
    const after = h.sim.requests.slice(
      h.sim.requests.findIndex((r) => r.operationId === 'create-instance') + 1,
    )
    expect(after[0]?.operationId).toBe('list-instances')
    expect(after[0]?.query.labels).toContain(
      `exollama-intent=${instances[0]?.labels['exollama-intent']}`,
    )
    const intent = h.store.intents.get(instances[0]?.labels['exollama-intent'] ?? '')
    expect(intent?.state).toBe('created')
    expect(intent?.instanceId).toBe(ready.instance.id)
    expect(
      h.events().some((e) => e.type === 'create' && e.errorCode === 'exoscale_server_error'),
    ).toBe(true)
  })

  it('a connection reset after the create took effect: still one POST and an adopted instance', async () => {
    h = await startHarness()
    h.sim.faults.connectionReset({ when: 'after', match: CREATE })
    const p = h.provisioner()
    const ready = await p.ensureReady()
    expect(h.calls('create-instance')).toBe(1)
    expect(liveInstances(h.sim).map((i) => i.id)).toEqual([ready.instance.id])
  })

  it('a reset before the create took effect: one POST, a clear error, the intent abandoned, nothing created', async () => {
    h = await startHarness()
    h.sim.faults.connectionReset({ when: 'before', match: CREATE })
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'create_unconfirmed', kind: 'cloud' })
    expect((error as Error).message).toContain('never repeated blindly')
    expect(h.calls('create-instance')).toBe(1)
    expect(liveInstances(h.sim)).toEqual([])
    const [intent] = h.store.intents.list({ name: 'exollama' })
    expect(intent?.state).toBe('abandoned')
    // The next wake is a new decision with a new intent.
    const ready = await p.ensureReady()
    expect(h.calls('create-instance')).toBe(2)
    expect(liveInstances(h.sim)[0]?.labels['exollama-intent']).not.toBe(intent?.id)
    expect(ready.instance.id).toBe(liveInstances(h.sim)[0]?.id)
  })

  it('no capacity: one clear error naming EXOSCALE_ZONE / EXOSCALE_INSTANCE_TYPE, nothing left behind', async () => {
    h = await startHarness()
    h.sim.faults.capacity('standard.medium')
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'exoscale_capacity_unavailable', kind: 'cloud' })
    const message = (error as Error).message
    expect(message).toContain('no capacity for standard.medium in ch-gva-2')
    expect(message).toContain('EXOSCALE_ZONE or EXOSCALE_INSTANCE_TYPE')
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.store.intents.list({ name: 'exollama' })[0]?.state).toBe('abandoned')
    expect(h.store.instances.get('exollama')).toBeNull()
    expect(h.calls('create-instance')).toBe(1)
  })

  it('quota exceeded: one clear error that says how to fix it', async () => {
    h = await startHarness()
    h.sim.faults.quota('instance', 0)
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'exoscale_quota_exceeded', kind: 'config' })
    expect((error as Error).message).toContain('raise the quota in the Exoscale portal')
    expect((error as Error).message).toContain('EXOSCALE_INSTANCE_TYPE')
    expect(liveInstances(h.sim)).toEqual([])
  })

  it('an operation that fails leaving an instance in error state: the leftover is deleted', async () => {
    h = await startHarness()
    h.sim.faults.failOperation({
      match: CREATE,
      reason: 'fault',
      message: 'hypervisor failure',
      instanceState: 'error',
    })
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'exoscale_operation_failed' })
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.calls('delete-instance')).toBe(1)
    expect(h.calls('create-instance')).toBe(1)
  })

  it('retries a flaky API before anything was created (transient list failures), then creates once', async () => {
    h = await startHarness()
    // More 503s than the client's own retries: the wake itself rides them out.
    h.sim.faults.serverError({ status: 503, times: 7, match: { operationId: 'list-instances' } })
    const p = h.provisioner({ settings: { ...TEST_SETTINGS, wakeTimeoutS: 30 } })
    await p.ensureReady()
    expect(h.calls('create-instance')).toBe(1)
    expect(liveInstances(h.sim)).toHaveLength(1)
  })
})
