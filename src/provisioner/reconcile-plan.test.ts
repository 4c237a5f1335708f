import { describe, expect, it } from 'vitest'
import type { Instance } from '../exoscale/index.js'
import { Secret } from '../shared/index.js'
import type { InstanceRecord, Intent } from '../store/index.js'
import {
  adoptableIntent,
  pickKeeper,
  planReconcile,
  type ReconcilePlanInput,
} from './reconcile-plan.js'

const NOW = Date.UTC(2026, 5, 1, 12)
const MIN = 60_000

function instance(id: string, over: Partial<Instance> & { intent?: string; age?: number } = {}) {
  const { intent, age, ...rest } = over
  return {
    id,
    name: 'exollama',
    state: 'running' as const,
    'created-at': new Date(NOW - (age ?? 30 * MIN)).toISOString(),
    labels: {
      'managed-by': 'exollama',
      'exollama-name': 'exollama',
      ...(intent ? { 'exollama-intent': intent } : {}),
    },
    ...rest,
  } satisfies Instance
}

function intent(id: string, over: Partial<Intent> = {}): Intent {
  return {
    id,
    name: 'exollama',
    state: 'created',
    fencing: 1,
    zone: 'ch-gva-2',
    instanceType: 'standard.medium',
    template: 'Linux Ubuntu 22.04 LTS 64-bit',
    operationId: null,
    instanceId: null,
    tlsCertPem: 'CERT',
    tlsFingerprint: 'FP',
    secrets: { ollamaKey: new Secret('k'), tlsKeyPem: new Secret('p') },
    reason: null,
    createdAt: NOW - 30 * MIN,
    updatedAt: NOW - 30 * MIN,
    ...over,
  }
}

function record(instanceId: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    name: 'exollama',
    instanceId,
    intentId: null,
    zone: 'ch-gva-2',
    instanceType: 'standard.medium',
    template: 'Linux Ubuntu 22.04 LTS 64-bit',
    ip: '203.0.113.1',
    state: 'ready',
    createdAt: NOW - 30 * MIN,
    startedAt: NOW - 30 * MIN,
    tlsCertPem: 'CERT',
    tlsFingerprint: 'FP',
    ollamaVersion: '0.32.15',
    updatedAt: NOW - 30 * MIN,
    secrets: { ollamaKey: new Secret('k'), tlsKeyPem: new Secret('p') },
    ...over,
  }
}

function plan(over: Partial<ReconcilePlanInput>) {
  return planReconcile({
    name: 'exollama',
    now: NOW,
    instances: [],
    record: null,
    intents: [],
    idleAction: 'destroy',
    destroyAfterMs: 24 * 60 * MIN,
    maxLifetimeMs: 24 * 60 * MIN,
    orphanGraceMs: 10 * MIN,
    intentGraceMs: 2 * MIN,
    ...over,
  })
}

const summary = (p: ReturnType<typeof plan>) =>
  p.actions.map((a) =>
    a.kind === 'destroy'
      ? `destroy ${a.instance.id} ${a.why}`
      : a.kind === 'mark-gone'
        ? `mark-gone ${a.record.instanceId}`
        : a.kind === 'abandon-intent'
          ? `abandon ${a.intent.id}`
          : `${a.kind} ${a.instance.id}`,
  )

describe('planReconcile', () => {
  it('nothing listed and nothing stored: nothing to do', () => {
    expect(plan({})).toEqual({ keeper: null, actions: [], waiting: [] })
  })

  it('keeps the store’s instance and does nothing else to it', () => {
    const p = plan({ instances: [instance('a')], record: record('a') })
    expect(p.keeper?.id).toBe('a')
    expect(summary(p)).toEqual([])
  })

  it('adopts the oldest instance it holds an intent for; a younger duplicate waits out the grace', () => {
    const p = plan({
      instances: [
        instance('young', { intent: 'i2', age: 5 * MIN }),
        instance('old', { intent: 'i1', age: 20 * MIN }),
      ],
      intents: [intent('i1'), intent('i2')],
    })
    expect(p.keeper?.id).toBe('old')
    expect(summary(p)).toEqual(['adopt old'])
    expect(p.waiting).toEqual(['young'])
  })

  it('picks the keeper deterministically when created-at ties (by id), whatever the list order', () => {
    const a = instance('aaaa', { intent: 'i1', age: 20 * MIN })
    const b = instance('bbbb', { intent: 'i2', age: 20 * MIN })
    const intents = [intent('i1'), intent('i2')]
    expect(plan({ instances: [a, b], intents }).keeper?.id).toBe('aaaa')
    expect(plan({ instances: [b, a], intents }).keeper?.id).toBe('aaaa')
    expect(summary(plan({ instances: [b, a], intents }))).toEqual([
      'adopt aaaa',
      'destroy bbbb duplicate',
    ])
  })

  it('destroys a foreign labelled instance only after the grace period', () => {
    expect(summary(plan({ instances: [instance('x', { age: 9 * MIN })] }))).toEqual([])
    expect(summary(plan({ instances: [instance('x', { age: 11 * MIN })] }))).toEqual([
      'destroy x orphan',
    ])
  })

  it('an intent without secrets cannot be adopted (the instance could not be talked to)', () => {
    const p = plan({
      instances: [instance('x', { intent: 'i1', age: 11 * MIN })],
      intents: [intent('i1', { secrets: null })],
    })
    expect(p.keeper).toBeNull()
    expect(summary(p)).toEqual(['destroy x orphan'])
  })

  it('ignores instances without both managed labels, and ones already being deleted', () => {
    const p = plan({
      instances: [
        { ...instance('n', { age: 60 * MIN }), labels: { 'exollama-name': 'exollama' } },
        { ...instance('m', { age: 60 * MIN }), labels: { 'managed-by': 'exollama' } },
        instance('d', { age: 60 * MIN, state: 'destroying' }),
        {
          ...instance('o', { age: 60 * MIN }),
          labels: { 'managed-by': 'exollama', 'exollama-name': 'other' },
        },
      ],
    })
    expect(summary(p)).toEqual([])
  })

  it('marks the record gone when its instance is not listed at all (but not while it is being deleted)', () => {
    expect(summary(plan({ record: record('a') }))).toEqual(['mark-gone a'])
    expect(
      summary(plan({ record: record('a'), instances: [instance('a', { state: 'destroying' })] })),
    ).toEqual([])
  })

  it('max lifetime wins over everything else', () => {
    const p = plan({
      instances: [instance('a', { age: 25 * 60 * MIN })],
      record: record('a'),
    })
    expect(summary(p)).toEqual(['destroy a max-lifetime'])
  })

  it('an instance that powered itself off: destroyed in destroy mode, recorded stopped in stop mode', () => {
    const stopped = instance('a', { state: 'stopped' })
    expect(summary(plan({ instances: [stopped], record: record('a') }))).toEqual([
      'destroy a powered-off',
    ])
    expect(
      summary(plan({ instances: [stopped], record: record('a'), idleAction: 'stop' })),
    ).toEqual(['mark-stopped a'])
  })

  it('a deliberately stopped instance is kept until EXOLLAMA_DESTROY_AFTER, even in destroy mode', () => {
    const stopped = instance('a', { state: 'stopped' })
    const fresh = record('a', { state: 'stopped', updatedAt: NOW - 60 * MIN })
    expect(summary(plan({ instances: [stopped], record: fresh }))).toEqual([])
    const old = record('a', { state: 'stopped', updatedAt: NOW - 25 * 60 * MIN })
    expect(summary(plan({ instances: [stopped], record: old }))).toEqual([
      'destroy a destroy-after',
    ])
  })

  it('carries on an interrupted destroy or stop, and deletes an instance in error state', () => {
    expect(
      summary(plan({ instances: [instance('a')], record: record('a', { state: 'destroying' }) })),
    ).toEqual(['destroy a resume-destroy'])
    expect(
      summary(plan({ instances: [instance('a')], record: record('a', { state: 'stopping' }) })),
    ).toEqual(['stop a'])
    expect(
      summary(plan({ instances: [instance('a', { state: 'error' })], record: record('a') })),
    ).toEqual(['destroy a error-state'])
  })

  it('abandons pending intents without an instance once past the intent grace', () => {
    const young = intent('y', { state: 'pending', createdAt: NOW - MIN })
    const old = intent('o', { state: 'pending', createdAt: NOW - 3 * MIN })
    const found = intent('f', { state: 'pending', createdAt: NOW - 3 * MIN })
    const p = plan({
      intents: [young, old, found],
      instances: [instance('x', { intent: 'f' })],
    })
    expect(summary(p)).toEqual(['adopt x', 'abandon o'])
  })
})

describe('pickKeeper', () => {
  const adoptable = adoptableIntent([intent('a'), intent('b'), intent('bare', { secrets: null })])

  it("keeps the store's instance without adopting it, whatever its intent", () => {
    const live = [instance('old', { intent: 'a', age: 60 * MIN }), instance('mine')]
    expect(pickKeeper(live, record('mine'), adoptable, NOW)).toEqual({
      instance: live[1],
      adopt: null,
    })
  })

  it('otherwise adopts the oldest instance whose intent holds secrets, ties by id', () => {
    const live = [
      instance('foreign', { age: 90 * MIN }),
      instance('no-secrets', { intent: 'bare', age: 90 * MIN }),
      instance('z', { intent: 'b', age: 60 * MIN }),
      instance('y', { intent: 'a', age: 60 * MIN }),
      instance('young', { intent: 'a', age: MIN }),
    ]
    const picked = pickKeeper(live, record('gone'), adoptable, NOW)
    expect(picked?.instance.id).toBe('y')
    expect(picked?.adopt?.id).toBe('a')
    expect(pickKeeper([instance('foreign')], null, adoptable, NOW)).toBeNull()
  })

  it('dates an instance without created-at by the fallback given', () => {
    const { 'created-at': _dropped, ...undated } = instance('undated', { intent: 'a' })
    const dated = instance('dated', { intent: 'b', age: 60 * MIN })
    expect(pickKeeper([dated, undated], null, adoptable, 0)?.instance.id).toBe('undated')
    expect(pickKeeper([dated, undated], null, adoptable, NOW)?.instance.id).toBe('dated')
  })
})
