import { afterEach, describe, expect, it } from 'vitest'
import type { VmOptions } from '../../src/simulator/index.js'
import { killChildren, startChild, type Child } from './helpers/child.js'
import {
  eventually,
  FAST_TUNING,
  liveInstances,
  startHarness,
  type Harness,
} from './helpers/harness.js'
import type { ChildConfig } from './fixtures/provisioner-child.js'

let h: Harness
afterEach(async () => {
  await killChildren()
  await h?.close()
})

/**
 * kill -9 of a provisioner process at each step of a wake (and of a destroy), then a restart on
 * the same data directory: after one reconcile round at most one labelled instance is alive,
 * and the store and the simulator agree on which.
 */
interface Step {
  name: string
  vm?: VmOptions
  child: Partial<ChildConfig>
  /** Set up faults before the child starts. */
  arrange?: (h: Harness) => void
  /** Resolves when the child is at the step. */
  at: (h: Harness, child: Child) => Promise<unknown>
  /** The restarted provisioner brings the same instance to ready (adoption with stored secrets). */
  resumesToReady?: boolean
  /** The destroy is carried through: nothing left in the cloud or the store. */
  endsAbsent?: boolean
}

const STEPS: Step[] = [
  {
    name: 'after the intent row, before the create call',
    child: { hang: 'before-create' },
    at: async (h, child) => {
      await child.line('hang before-create')
      expect(h.store.intents.list({ name: 'exollama', state: 'pending' })).toHaveLength(1)
    },
  },
  {
    name: 'right after the create call was answered',
    child: { hang: 'after-create' },
    at: (_h, child) => child.line('hang after-create'),
    resumesToReady: true,
  },
  {
    name: 'while waiting on the create operation',
    child: {},
    arrange: (h) =>
      h.sim.faults.slowOperations(1_500, { match: { operationId: 'create-instance' } }),
    at: (h) =>
      eventually(() => {
        const create = h.sim.requests.findIndex((r) => r.operationId === 'create-instance')
        return (
          create >= 0 &&
          h.sim.requests.slice(create).some((r) => r.operationId === 'get-operation') &&
          liveInstances(h.sim)[0]?.state === 'starting'
        )
      }, 'a poll of the create operation'),
    resumesToReady: true,
  },
  {
    name: 'after the instance runs, while it boots',
    child: {},
    arrange: (h) => h.sim.vm.faults.slowBoot('health', Infinity),
    at: (h) =>
      eventually(
        () => h.sim.vm.list().some((vm) => vm.bootStatus?.phase === 'health'),
        'the boot to hang at health',
      ),
  },
  {
    name: 'during the model pull',
    // Our pull streams progress; each line comes a minute after the previous one.
    vm: { ollama: { chunkDelayMs: 60_000 } },
    child: {},
    at: (h) =>
      eventually(
        () =>
          h.sim.vm
            .list()
            .some((vm) =>
              (vm.ollama?.requests ?? []).some(
                (r) => r.url === '/api/pull' && r.body.includes('"stream":true'),
              ),
            ),
        'our pull',
      ),
  },
  {
    name: 'during destroy',
    child: { action: 'destroy', hang: 'after-delete' },
    at: (_h, child) => child.line('hang after-delete'),
    endsAbsent: true,
  },
]

describe('crash safety: kill -9 at each step, then restart', () => {
  for (const step of STEPS) {
    it(step.name, async () => {
      h = await startHarness(step.vm ? { vm: step.vm } : {})
      step.arrange?.(h)
      const child = startChild(h, { leaseTtlMs: 1_500, ...step.child })
      await step.at(h, child)
      await child.kill()
      h.sim.faults.clear()

      const p = h.provisioner({
        tuning: { ...FAST_TUNING, orphanGraceMs: 600_000, intentGraceMs: 0 },
      })
      // The dead child's lease blocks writers until it expires (1.5 s here, 30 s by default:
      // shorter than the 60 s reconcile interval), so the first round may be skipped.
      let report = await p.reconcile()
      await eventually(async () => {
        if (report.skipped !== 'busy') return true
        report = await p.reconcile()
        return false
      }, 'the dead child’s lease to expire')
      expect(report.skipped).toBeUndefined()

      const live = liveInstances(h.sim)
      expect(live.length).toBeLessThanOrEqual(1)
      const record = h.store.instances.get('exollama')
      if (live.length === 1) {
        expect(record?.instanceId).toBe(live[0]?.id)
        expect(record?.intentId).toBe(live[0]?.labels['exollama-intent'])
      } else if (record) {
        // Only a delete still under way may leave a record without a live instance.
        expect(record.state).toBe('destroying')
        expect(h.sim.state.instance(record.instanceId)?.state ?? 'gone').toMatch(/destroying|gone/)
      }
      // No intent stays pending without an instance (the grace is 0 here).
      for (const intent of h.store.intents.list({ name: 'exollama', state: 'pending' })) {
        expect(live.some((i) => i.labels['exollama-intent'] === intent.id)).toBe(true)
      }
      expect(h.calls('create-instance')).toBeLessThanOrEqual(1)

      if (step.endsAbsent) {
        await eventually(() => h.sim.state.instances().length === 0, 'the instance to go')
        await p.reconcile()
        expect(h.store.instances.get('exollama')).toBeNull()
        expect(p.state()).toBe('absent')
      }
      if (step.resumesToReady) {
        const ready = await p.ensureReady({ reason: 'after restart' })
        expect(ready.instance.id).toBe(live[0]?.id)
        expect(h.calls('create-instance')).toBe(1)
      }
    })
  }
})
