import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/cli/index.js'
import { isWellFormedApiKey, openStore } from '../../src/store/index.js'
import { oneJsonObject, runCli, sandbox, type Sandbox } from './helpers/harness.js'

let box: Sandbox
beforeEach(() => (box = sandbox()))
afterEach(() => box.cleanup())

const KEY_PATTERN = /exo_ollama_[0-9A-Za-z]{49}/g

function verify(key: string) {
  const store = openStore({ dataDir: box.dataDir })
  try {
    return store.apiKeys.verify(key)
  } finally {
    store.close()
  }
}

describe('keys', () => {
  it('create prints the key once (alone on stdout) and says it is shown only once', async () => {
    const r = await runCli(box, ['keys', 'create', 'laptop'])
    expect(r.code).toBe(0)
    const key = r.stdout.trim()
    expect(isWellFormedApiKey(key)).toBe(true)
    expect(r.stdout).toBe(`${key}\n`)
    expect(r.stderr).toMatch(/only time the key is shown/)
    expect(r.stderr).not.toContain(key)
    expect(verify(key)).toMatchObject({ name: 'laptop', scopes: ['inference'] })
  })

  it('create --json gives the record, the key and a note, as one object', async () => {
    const r = await runCli(box, ['keys', 'create', 'ops', '--admin', '--json'])
    const json = oneJsonObject(r.stdout)
    expect(json).toEqual({
      id: expect.stringMatching(/^k[0-9a-f]{10}$/),
      name: 'ops',
      scopes: ['inference', 'admin'],
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      revoked_at: null,
      key: expect.stringMatching(/^exo_ollama_/),
      note: expect.stringMatching(/only time the key is shown/),
    })
    expect(r.stderr).toBe('')
    expect(verify(json.key as string)).toMatchObject({
      id: json.id,
      scopes: ['inference', 'admin'],
    })
  })

  it('list never shows a key; revoke makes the key fail verification at once', async () => {
    const a = (await runCli(box, ['keys', 'create', 'alpha'])).stdout.trim()
    const b = oneJsonObject((await runCli(box, ['keys', 'create', 'beta', '--json'])).stdout)
    const list = await runCli(box, ['keys', 'list'])
    const listJson = await runCli(box, ['keys', 'list', '--json'])
    for (const r of [list, listJson]) {
      expect(r.stdout + r.stderr).not.toMatch(KEY_PATTERN)
    }
    expect(list.stdout).toMatch(/alpha\s+inference/)
    const keys = oneJsonObject(listJson.stdout).keys as { id: string; name: string }[]
    expect(keys.map((k) => k.name)).toEqual(['alpha', 'beta'])
    expect(Object.keys(keys[0] ?? {}).sort()).toEqual([
      'created_at',
      'id',
      'name',
      'revoked_at',
      'scopes',
    ])

    const revoked = await runCli(box, ['keys', 'revoke', b.id as string, '--json'])
    expect(revoked.code).toBe(0)
    expect(oneJsonObject(revoked.stdout)).toMatchObject({
      revoked: { id: b.id, name: 'beta', revoked_at: expect.any(String) },
    })
    expect(verify(b.key as string)).toBeNull()
    expect(verify(a)).toMatchObject({ name: 'alpha' })

    const active = oneJsonObject((await runCli(box, ['keys', 'list', '--json'])).stdout)
    expect((active.keys as { name: string }[]).map((k) => k.name)).toEqual(['alpha'])
    const all = await runCli(box, ['keys', 'list', '--all'])
    expect(all.stdout).toMatch(/beta\s+inference\s+\S+ \S+\s+\d{4}-/)
    expect(all.stdout + all.stderr).not.toMatch(KEY_PATTERN)
  })

  it('revoking an unknown or already revoked key is a config error with one line', async () => {
    const r = await runCli(box, ['keys', 'revoke', 'k0000000000'])
    expect(r.code).toBe(EXIT_CODES.config)
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/no active key with id "k0000000000": run "exollama keys list"/),
    ])
  })

  it('a bad key name is a usage error', async () => {
    const r = await runCli(box, ['keys', 'create', 'x'.repeat(65)])
    expect(r.code).toBe(EXIT_CODES.usage)
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1)
    expect(r.stdout).toBe('')
  })

  it('a missing name is a usage error', async () => {
    const r = await runCli(box, ['keys', 'create'])
    expect(r.code).toBe(EXIT_CODES.usage)
    expect(r.stderr).toBe(
      `exollama: missing required argument 'NAME'; run "exollama keys create --help" for usage\n`,
    )
  })
})
