import { inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import {
  FINGERPRINT_A,
  OTHER_INSTANCE_ID,
  memoryStore,
  sampleInstance,
  tempDir,
  testCertificate,
} from './store.test-helper.js'
import type { ManualClock } from '../shared/index.js'
import { LeaseLostError, openStore, type Store } from './index.js'

let store: Store
let clock: ManualClock
afterEach(() => store?.close())

describe('instance records', () => {
  it('save, read back, update and remove the one record per name', async () => {
    ;({ store, clock } = memoryStore())
    expect(store.instances.get('exollama')).toBeNull()
    const saved = store.instances.save(sampleInstance())
    expect(saved).toMatchObject({
      name: 'exollama',
      state: 'ready',
      ip: '203.0.113.10',
      tlsFingerprint: FINGERPRINT_A,
      updatedAt: clock.now(),
    })
    expect(store.instances.get('exollama')).toEqual(saved)
    await clock.advance(1000)
    const updated = store.instances.update('exollama', { state: 'stopped', ip: null })
    expect(updated).toMatchObject({ state: 'stopped', ip: null, updatedAt: clock.now() })
    expect(updated?.secrets.ollamaKey.reveal()).toBe('ollama-key-canary-0123456789')
    expect(store.instances.update('nope', { state: 'ready' })).toBeNull()
    expect(store.instances.list().map((r) => r.name)).toEqual(['exollama'])
    expect(store.instances.remove('exollama')).toBe(true)
    expect(store.instances.remove('exollama')).toBe(false)
    expect(store.instances.get('exollama')).toBeNull()
  })

  it('replace the record on a second save for the same name', () => {
    ;({ store, clock } = memoryStore())
    store.instances.save(sampleInstance())
    store.instances.save(sampleInstance({ instanceId: OTHER_INSTANCE_ID, state: 'booting' }))
    expect(store.instances.list()).toHaveLength(1)
    expect(store.instances.get('exollama')).toMatchObject({
      instanceId: OTHER_INSTANCE_ID,
      state: 'booting',
    })
  })

  it('never show secrets in JSON, inspect or string form', () => {
    ;({ store, clock } = memoryStore())
    const record = store.instances.save(sampleInstance())
    for (const text of [
      JSON.stringify(record),
      JSON.stringify(store.instances.list()),
      inspect(record, { depth: 10 }),
      String(record.secrets.ollamaKey),
      `${record.secrets.tlsKeyPem}`,
    ]) {
      expect(text).not.toContain('canary')
      expect(text).not.toContain('PRIVATE KEY')
    }
    expect(JSON.parse(JSON.stringify(record)).secrets).toEqual({
      ollamaKey: '[redacted]',
      tlsKeyPem: '[redacted]',
    })
    expect(record.secrets.tlsKeyPem.reveal()).toContain('PRIVATE KEY')
  })

  it('reject operation-style ids, unknown states and a fingerprint that does not match', () => {
    ;({ store, clock } = memoryStore())
    expect(() => store.instances.save(sampleInstance({ instanceId: 'op-12' }))).toThrow(
      /not an Exoscale instance id/,
    )
    expect(() => store.instances.save(sampleInstance({ state: 'running' as never }))).toThrow(
      /not an instance state/,
    )
    expect(() => store.instances.save(sampleInstance({ tlsFingerprint: 'AB:CD' }))).toThrow(
      /does not match the certificate/,
    )
    expect(() => store.instances.save(sampleInstance({ tlsCertPem: 'not a cert' }))).toThrow(
      /not valid PEM/,
    )
    expect(
      store.instances.save(sampleInstance({ tlsFingerprint: FINGERPRINT_A.toLowerCase() }))
        .tlsFingerprint,
    ).toBe(FINGERPRINT_A)
    expect(() =>
      store.instances.save(
        sampleInstance({ tlsCertPem: testCertificate('b').certPem, tlsFingerprint: FINGERPRINT_A }),
      ),
    ).toThrow(/does not match/)
  })

  it('refuse fenced writes from a lost leader', async () => {
    ;({ store, clock } = memoryStore())
    const lease = store.leases.acquire('provisioner', 'gw-a', 1000)!
    const fence = { lease: 'provisioner', owner: 'gw-a', fencing: lease.fencing }
    store.instances.save(sampleInstance(), fence)
    await clock.advance(1000)
    store.leases.acquire('provisioner', 'gw-b', 1000)
    expect(() => store.instances.update('exollama', { state: 'stopping' }, fence)).toThrow(
      LeaseLostError,
    )
    expect(() => store.instances.remove('exollama', fence)).toThrow(LeaseLostError)
    expect(store.instances.get('exollama')?.state).toBe('ready')
  })

  it('survive a restart with their secrets, so the gateway can keep talking to the instance', () => {
    const { dir, cleanup } = tempDir()
    try {
      const first = openStore({ dataDir: dir })
      first.instances.save(sampleInstance())
      first.close()
      store = openStore({ dataDir: dir })
      const record = store.instances.get('exollama')
      expect(record?.secrets.ollamaKey.reveal()).toBe('ollama-key-canary-0123456789')
      expect(record?.secrets.tlsKeyPem.reveal()).toBe(testCertificate('a').keyPem)
      expect(record?.tlsCertPem).toBe(testCertificate('a').certPem)
    } finally {
      store?.close()
      cleanup()
    }
  })
})
