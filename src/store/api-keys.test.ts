import { readFileSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir } from './store.test-helper.js'
import { ManualClock, Secret } from '../shared/index.js'
import {
  API_KEY_PREFIX,
  generateApiKey,
  isWellFormedApiKey,
  openStore,
  type Store,
} from './index.js'

let dir: string
let cleanup: () => void
const opened: Store[] = []
beforeEach(() => ({ dir, cleanup } = tempDir()))
afterEach(() => {
  for (const s of opened.splice(0)) s.close()
  cleanup()
})

const clock = new ManualClock(Date.UTC(2026, 0, 15))
function open(): Store {
  const store = openStore({ dataDir: dir, clock })
  opened.push(store)
  return store
}

describe('key format', () => {
  it('is exo_ollama_ + 43 base62 characters + a 6-character checksum', () => {
    const keys = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const key = generateApiKey()
      expect(key).toMatch(/^exo_ollama_[0-9A-Za-z]{49}$/)
      expect(isWellFormedApiKey(key)).toBe(true)
      keys.add(key)
    }
    expect(keys.size).toBe(200)
    const key = generateApiKey()
    const flipped = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21)
    expect(isWellFormedApiKey(flipped)).toBe(false)
    expect(isWellFormedApiKey(key.slice(0, -1))).toBe(false)
  })
})

describe('client API keys', () => {
  it('return the key once and store only its digest', () => {
    const store = open()
    const created = store.apiKeys.create({ name: 'laptop' })
    const key = created.key.reveal()
    expect(key.startsWith(API_KEY_PREFIX)).toBe(true)
    expect(created.record).toEqual({
      id: expect.stringMatching(/^k[0-9a-f]{10}$/),
      name: 'laptop',
      scopes: ['inference'],
      createdAt: clock.now(),
      revokedAt: null,
    })
    expect(JSON.stringify(created)).not.toContain(key)
    expect(JSON.stringify(store.apiKeys.list())).not.toContain(key.slice(API_KEY_PREFIX.length))
    store.close()
    // Neither the database nor its WAL contains the key.
    for (const file of ['exollama.db', 'exollama.db-wal']) {
      const bytes = (() => {
        try {
          return readFileSync(`${dir}/${file}`)
        } catch {
          return Buffer.alloc(0)
        }
      })()
      expect(bytes.includes(Buffer.from(key.slice(API_KEY_PREFIX.length)))).toBe(false)
    }
  })

  it('verify active keys only, whatever the length of a wrong one', () => {
    const store = open()
    const { key, record } = store.apiKeys.create({ name: 'ci', scopes: ['inference', 'admin'] })
    expect(store.apiKeys.verify(key)).toEqual({
      id: record.id,
      name: 'ci',
      scopes: ['inference', 'admin'],
    })
    expect(store.apiKeys.verify(new Secret(key.reveal()))).toMatchObject({ id: record.id })
    const wrongSameLength = generateApiKey()
    for (const wrong of [wrongSameLength, '', 'x', key.reveal() + 'x', key.reveal().slice(0, -1)]) {
      expect(store.apiKeys.verify(wrong)).toBeNull()
    }
  })

  it('support rotation: two keys active, then the old one revoked', () => {
    const store = open()
    const old = store.apiKeys.create({ name: 'app' })
    const next = store.apiKeys.create({ name: 'app' })
    expect(store.apiKeys.verify(old.key)?.id).toBe(old.record.id)
    expect(store.apiKeys.verify(next.key)?.id).toBe(next.record.id)
    expect(store.apiKeys.list().map((r) => r.id)).toEqual([old.record.id, next.record.id])
    const revoked = store.apiKeys.revoke(old.record.id)
    expect(revoked).toMatchObject({ id: old.record.id, revokedAt: clock.now() })
    expect(store.apiKeys.revoke(old.record.id)).toBeNull()
    expect(store.apiKeys.revoke('k0000000000')).toBeNull()
    expect(store.apiKeys.verify(old.key)).toBeNull()
    expect(store.apiKeys.verify(next.key)?.id).toBe(next.record.id)
    expect(store.apiKeys.list().map((r) => r.id)).toEqual([next.record.id])
    expect(store.apiKeys.list({ includeRevoked: true })).toHaveLength(2)
  })

  it('see keys created and revoked by another process at once', () => {
    const gateway = open()
    const cli = open()
    expect(gateway.apiKeys.verify(generateApiKey())).toBeNull() // warms the gateway's cache
    const created = cli.apiKeys.create({ name: 'from-cli' })
    expect(gateway.apiKeys.verify(created.key)?.name).toBe('from-cli')
    cli.apiKeys.revoke(created.record.id)
    expect(gateway.apiKeys.verify(created.key)).toBeNull()
  })

  it('reject bad names and scopes', () => {
    const store = open()
    expect(() => store.apiKeys.create({ name: '' })).toThrow(/1 to 64 printable/)
    expect(() => store.apiKeys.create({ name: 'x'.repeat(65) })).toThrow(/1 to 64 printable/)
    expect(() => store.apiKeys.create({ name: 'ok', scopes: ['root' as never] })).toThrow(
      /unknown key scope "root"/,
    )
  })
})
