/**
 * The real `exollama` process (node --import tsx src/main.ts): no TTY on stdin, stdout or
 * stderr, NO_COLOR=1, HOME an empty folder, only the variables given here.
 */
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/cli/index.js'
import { openStore } from '../../src/store/index.js'
import {
  hasAnsi,
  oneJsonObject,
  runSubprocess,
  sandbox,
  spawnCli,
  type Sandbox,
} from './helpers/harness.js'

// Each test has its own sandbox, so the tests (each a few process starts) run concurrently.
const boxes: Sandbox[] = []
function fresh(): Sandbox {
  const box = sandbox()
  boxes.push(box)
  return box
}
afterAll(() => {
  for (const box of boxes) box.cleanup()
})

const H = 3_600_000

describe.concurrent('exollama as a process', () => {
  it('works with only HOME (an empty folder) and PATH: state goes to ~/.local/share/exollama, 0700', async () => {
    const box = fresh()
    const r = await runSubprocess(['keys', 'list', '--json'], { HOME: box.home })
    expect(r.code, r.stderr).toBe(0)
    expect(oneJsonObject(r.stdout)).toEqual({ keys: [] })
    const dir = path.join(box.home, '.local', 'share', 'exollama')
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(path.join(dir, 'exollama.db')).mode & 0o777).toBe(0o600)
  })

  it('--help lists serve, status, start, stop, destroy, logs, without colours', async () => {
    const box = fresh()
    const r = await runSubprocess(['--help'], box.env)
    expect(r.code).toBe(0)
    for (const name of ['serve', 'status', 'start', 'stop', 'destroy', 'logs']) {
      expect(r.stdout).toMatch(new RegExp(`\\n  ${name}\\b`))
    }
    expect(hasAnsi(r.stdout + r.stderr)).toBe(false)
  })

  it('config set refuses banana with one line on stderr and a non-zero exit, leaving the file as it was', async () => {
    const box = fresh()
    const ok = await runSubprocess(['config', 'set', 'EXOSCALE_IDLE_TIMEOUT', '600'], box.env)
    expect(ok.code, ok.stderr).toBe(0)
    const file = path.join(box.dataDir, 'config.json')
    const before = readFileSync(file)
    const r = await runSubprocess(['config', 'set', 'EXOSCALE_IDLE_TIMEOUT', 'banana'], box.env)
    expect(r.code).toBe(EXIT_CODES.config)
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      'exollama: EXOSCALE_IDLE_TIMEOUT: "banana" is not valid: expected an integer number of seconds between 5 and 2592000',
    ])
    expect(readFileSync(file).equals(before)).toBe(true)
    const get = await runSubprocess(['config', 'get', 'EXOSCALE_IDLE_TIMEOUT', '--json'], box.env)
    expect(oneJsonObject(get.stdout)).toMatchObject({ value: 600, source: 'file' })
  })

  it('reads a secret from stdin and never prints it', async () => {
    const box = fresh()
    const r = await runSubprocess(
      ['config', 'set', 'EXOSCALE_API_SECRET', '-'],
      box.env,
      'proc-secret-canary-31415\n',
    )
    expect(r.code, r.stderr).toBe(0)
    const list = await runSubprocess(['config', 'list', '--json'], box.env)
    const json = oneJsonObject(list.stdout)
    expect((json.settings as Record<string, unknown>).EXOSCALE_API_SECRET).toEqual({
      set: true,
      locked: false,
    })
    expect(r.stdout + r.stderr + list.stdout + list.stderr).not.toContain('proc-secret-canary')
  })

  it('keys: create prints the key once as JSON; list never shows it; revoke stops it', async () => {
    const box = fresh()
    const created = await runSubprocess(['keys', 'create', 'ci', '--json'], box.env)
    expect(created.code, created.stderr).toBe(0)
    const json = oneJsonObject(created.stdout)
    const key = json.key as string
    const list = await runSubprocess(['keys', 'list', '--json'], box.env)
    expect(oneJsonObject(list.stdout).keys).toEqual([
      expect.objectContaining({ id: json.id, name: 'ci' }),
    ])
    expect(list.stdout).not.toContain(key)
    const revoked = await runSubprocess(['keys', 'revoke', json.id as string], box.env)
    expect(revoked.code).toBe(0)
    const store = openStore({ dataDir: box.dataDir })
    try {
      expect(store.apiKeys.verify(key)).toBeNull()
    } finally {
      store.close()
    }
  })

  it('cost --json reports a seeded ledger as one object', async () => {
    const box = fresh()
    const store = openStore({ dataDir: box.dataDir })
    // A finished two-hour session, whatever today is.
    const end = Date.now() - 10 * 86_400_000
    store.usage.startSession({
      instanceId: 'i-sub',
      instanceType: 'standard.medium',
      startedAt: end - 2 * H,
    })
    store.usage.endSession('i-sub', end)
    store.close()
    const r = await runSubprocess(['cost', '--json'], box.env)
    expect(r.code, r.stderr).toBe(0)
    expect(oneJsonObject(r.stdout).total).toMatchObject({
      running_ms: 2 * H,
      cost: 0.09332,
      by_type: [{ instance_type: 'standard.medium', hours: 2, cost: 0.09332 }],
    })
  })

  it('logs -f follows events written by another process and exits 0 on SIGTERM', async () => {
    const box = fresh()
    const store = openStore({ dataDir: box.dataDir })
    store.events.append({ type: 'wake', message: 'first event', actor: 'cli' })
    const follower = spawnCli(['logs', '-f'], box.env)
    try {
      await follower.waitFor((out) => out.includes('first event'))
      store.events.append({
        type: 'ready',
        phase: 'ready',
        message: 'second event',
        durationMs: 42_000,
      })
      await follower.waitFor((out) => out.includes('second event'))
    } finally {
      store.close()
      follower.kill('SIGTERM')
    }
    const r = await follower.exit
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/ready\s+ready {2}second event \(42\.0s\)\n$/)
    expect(r.stderr).toBe('')
  })

  it('usage errors are one line and exit code 2; --json errors are one object', async () => {
    const box = fresh()
    const r = await runSubprocess(['logs', '--jsno'], box.env)
    expect(r.code).toBe(EXIT_CODES.usage)
    expect(r.stderr).toBe(
      `exollama: unknown option '--jsno' (Did you mean --json?); run "exollama logs --help" for usage\n`,
    )
    const json = await runSubprocess(['keys', 'revoke', 'k0000000000', '--json'], box.env)
    expect(json.code).toBe(EXIT_CODES.config)
    expect(oneJsonObject(json.stdout)).toMatchObject({
      error: { code: 'key_not_found' },
      exit_code: 3,
    })
    expect(json.stderr.split('\n').filter(Boolean)).toHaveLength(1)
  })
})
