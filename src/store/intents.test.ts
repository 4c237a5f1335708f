import { inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import {
  FINGERPRINT_A,
  INSTANCE_ID,
  OTHER_INSTANCE_ID,
  memoryStore,
  testCertificate,
} from './store.test-helper.js'
import { Secret, type ManualClock } from '../shared/index.js'
import { LeaseLostError, StoreConflictError, type Fence, type Store } from './index.js'

let store: Store
let clock: ManualClock
afterEach(() => store?.close())

function leader(): Fence {
  ;({ store, clock } = memoryStore())
  const lease = store.leases.acquire('provisioner', 'gw-a', 60_000)!
  return { lease: 'provisioner', owner: 'gw-a', fencing: lease.fencing }
}

const input = () => ({
  name: 'exollama',
  zone: 'ch-gva-2',
  instanceType: 'standard.medium',
  template: 'Linux Ubuntu 22.04 LTS 64-bit',
  tlsCertPem: testCertificate('a').certPem,
  secrets: {
    ollamaKey: new Secret('intent-ollama-canary-xyz'),
    tlsKeyPem: new Secret(testCertificate('a').keyPem),
  },
})

describe('intents', () => {
  it('are recorded pending with a UUID, the fencing number, the certificate and secrets', () => {
    const fence = leader()
    const intent = store.intents.create(input(), fence)
    expect(intent.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    expect(intent).toMatchObject({
      state: 'pending',
      fencing: fence.fencing,
      operationId: null,
      instanceId: null,
      tlsFingerprint: FINGERPRINT_A,
      createdAt: clock.now(),
    })
    expect(store.intents.get(intent.id)?.secrets?.ollamaKey.reveal()).toBe(
      'intent-ollama-canary-xyz',
    )
    expect(JSON.stringify(intent)).not.toContain('canary')
    expect(inspect(intent, { depth: 5 })).not.toContain('canary')
    expect(JSON.stringify(intent)).not.toContain('PRIVATE KEY')
  })

  it('are refused once the lease expired or moved to another owner', async () => {
    const fence = leader()
    await clock.advance(60_000)
    expect(() => store.intents.create(input(), fence)).toThrow(LeaseLostError)
    const b = store.leases.acquire('provisioner', 'gw-b', 60_000)!
    expect(() => store.intents.create(input(), fence)).toThrow(/another owner holds fencing 2/)
    expect(store.intents.list()).toEqual([])
    const ok = store.intents.create(input(), {
      lease: 'provisioner',
      owner: 'gw-b',
      fencing: b.fencing,
    })
    expect(ok.fencing).toBe(2)
  })

  it('move pending → created with the instance id (not the operation id), idempotently', () => {
    const fence = leader()
    const intent = store.intents.create(input(), fence)
    const withOp = store.intents.setOperation(intent.id, OTHER_INSTANCE_ID)
    expect(withOp).toMatchObject({
      state: 'pending',
      operationId: OTHER_INSTANCE_ID,
      instanceId: null,
    })
    const created = store.intents.markCreated(intent.id, { instanceId: INSTANCE_ID })
    expect(created).toMatchObject({
      state: 'created',
      instanceId: INSTANCE_ID,
      operationId: OTHER_INSTANCE_ID,
    })
    expect(store.intents.markCreated(intent.id, { instanceId: INSTANCE_ID }).state).toBe('created')
    expect(() => store.intents.markCreated(intent.id, { instanceId: OTHER_INSTANCE_ID })).toThrow(
      StoreConflictError,
    )
    expect(() => store.intents.markAbandoned(intent.id, 'x')).toThrow(/only a pending intent/)
    expect(() => store.intents.markCreated(intent.id, { instanceId: 'op-123' })).toThrow(
      /not an Exoscale instance id/,
    )
  })

  it('move pending → abandoned with a one-line reason, after which they cannot be created', () => {
    const fence = leader()
    const intent = store.intents.create(input(), fence)
    const abandoned = store.intents.markAbandoned(intent.id, 'create failed: quota\nstack...')
    expect(abandoned).toMatchObject({ state: 'abandoned', reason: 'create failed: quota' })
    expect(() => store.intents.markCreated(intent.id, { instanceId: INSTANCE_ID })).toThrow(
      /is abandoned/,
    )
    expect(() => store.intents.setOperation(intent.id, 'x')).toThrow(/only be set while pending/)
    expect(() => store.intents.markAbandoned('missing', 'x')).toThrow(/no intent missing/)
  })

  it('list newest first with filters', async () => {
    const fence = leader()
    const first = store.intents.create({ ...input(), name: 'a' }, fence)
    await clock.advance(10)
    const second = store.intents.create({ ...input(), name: 'b' }, fence)
    await clock.advance(10)
    const third = store.intents.create({ ...input(), name: 'a' }, fence)
    store.intents.markAbandoned(third.id, 'gone')
    expect(store.intents.list().map((i) => i.id)).toEqual([third.id, second.id, first.id])
    expect(store.intents.list({ name: 'a', state: 'pending' }).map((i) => i.id)).toEqual([first.id])
    expect(store.intents.list({ limit: 1 }).map((i) => i.id)).toEqual([third.id])
  })

  it('may be written without certificate or secrets', () => {
    const fence = leader()
    const { tlsCertPem: _c, secrets: _s, ...bare } = input()
    const intent = store.intents.create(bare, fence)
    expect(intent).toMatchObject({ tlsCertPem: null, tlsFingerprint: null, secrets: null })
  })
})
