import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Secret } from '../../src/shared/secret.js'
import {
  VM_PATHS,
  WATCHDOG_SCRIPT,
  buildUserData,
  generateInstanceCredentials,
} from '../../src/recipe/index.js'
import { decodeAndParse, fileContent, repoRoot } from './helpers/cloud-config.js'

/**
 * The REAL watchdog script, run by bash against fixture logs and boot status files. Its
 * `decide` entry point takes the log, uptime and now as inputs; nothing here depends on the
 * wall clock.
 */
const fixtures = path.join(repoRoot, 'test/fixtures/recipe/watchdog')
const T = 1767225600 // 2026-01-01T00:00:00Z, the fixtures' epoch
const IDLE = 1800
const GRACE = 600 // limit = 2400
const MAX = 86_400

let dir: string
let script: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'exollama-watchdog-'))
  script = path.join(dir, 'exollama-watchdog')
  // The script exactly as the user-data ships it.
  const creds = await generateInstanceCredentials()
  const shipped = fileContent(
    decodeAndParse(
      buildUserData({
        name: 'w',
        ollamaKey: new Secret('watchdog-test-key-0123456789'),
        tls: { certPem: creds.certPem, keyPem: creds.keyPem },
        gpu: false,
        idleTimeoutS: IDLE,
        maxLifetimeS: MAX,
      }).userData,
    ),
    VM_PATHS.watchdogScript,
  )
  expect(shipped).toBe(WATCHDOG_SCRIPT)
  writeFileSync(script, shipped, { mode: 0o755 })
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const fx = (name: string) => path.join(fixtures, name)

interface Case {
  name: string
  log?: string
  boot?: string
  uptime: number | string
  now: number | string
  inFlight?: number
  idle?: number
  grace?: number
  max?: number
  expected: string
}

function decide(c: Omit<Case, 'name' | 'expected'>) {
  const args = [
    script,
    'decide',
    '--log',
    c.log ? fx(c.log) : path.join(dir, 'no-such.log'),
    '--uptime',
    String(c.uptime),
    '--now',
    String(c.now),
    '--idle',
    String(c.idle ?? IDLE),
    '--grace',
    String(c.grace ?? GRACE),
    '--max-lifetime',
    String(c.max ?? MAX),
  ]
  if (c.boot) args.push('--boot-status', fx(c.boot))
  if (c.inFlight !== undefined) args.push('--in-flight', String(c.inFlight))
  return spawnSync('bash', args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
}

const cases: Case[] = [
  // No request yet: the idle clock starts when the boot settles.
  {
    name: 'no log yet, boot just finished',
    boot: 'boot-ready.txt',
    uptime: 400,
    now: T + 60,
    expected: 'keep idle idle_s=60 limit_s=2400 since=boot-ready',
  },
  {
    name: 'empty log, boot finished one second short of the limit',
    log: 'activity-empty.txt',
    boot: 'boot-ready.txt',
    uptime: 3000,
    now: T + 2399,
    expected: 'keep idle idle_s=2399 limit_s=2400 since=boot-ready',
  },
  {
    name: 'empty log, boot finished exactly idle + grace ago',
    log: 'activity-empty.txt',
    boot: 'boot-ready.txt',
    uptime: 3000,
    now: T + 2400,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=boot-ready',
  },
  // Requests.
  {
    name: 'recent request',
    log: 'activity-recent.txt',
    boot: 'boot-ready.txt',
    uptime: 5000,
    now: T + 1500,
    expected: 'keep idle idle_s=500 limit_s=2400 since=request',
  },
  {
    name: 'old request',
    log: 'activity-recent.txt',
    boot: 'boot-ready.txt',
    uptime: 5000,
    now: T + 3400,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=request',
  },
  {
    name: 'newest request is not the last line',
    log: 'activity-unordered.txt',
    uptime: 5000,
    now: T + 3399,
    expected: 'keep idle idle_s=2399 limit_s=2400 since=request',
  },
  {
    name: 'garbage after the last valid line is skipped',
    log: 'activity-garbage-tail.txt',
    uptime: 5000,
    now: T + 1100,
    expected: 'keep idle idle_s=100 limit_s=2400 since=request',
  },
  {
    name: 'a torn last line is not mistaken for a newer request',
    log: 'activity-torn-write.txt',
    uptime: 5000,
    now: T + 3400,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=request',
  },
  // A stream in flight is activity until it ends, however old the last logged request.
  {
    name: 'in-flight stream with an old last request',
    log: 'activity-recent.txt',
    boot: 'boot-ready.txt',
    uptime: 80_000,
    now: T + 70_000,
    inFlight: 1,
    expected: 'keep in-flight connections=1',
  },
  {
    name: 'several streams in flight, never any logged request',
    boot: 'boot-ready.txt',
    uptime: 80_000,
    now: T + 70_000,
    inFlight: 3,
    expected: 'keep in-flight connections=3',
  },
  // The hard cap wins over everything.
  {
    name: 'lifetime exceeded while a stream runs and a request just ended',
    log: 'activity-recent.txt',
    boot: 'boot-ready.txt',
    uptime: MAX,
    now: T + 1001,
    inFlight: 2,
    expected: 'poweroff max-lifetime uptime_s=86400 limit_s=86400',
  },
  {
    name: 'lifetime not yet reached (fractional uptime is truncated)',
    log: 'activity-recent.txt',
    uptime: '86399.99',
    now: T + 1001,
    expected: 'keep idle idle_s=1 limit_s=2400 since=request',
  },
  {
    name: 'lifetime exceeded during boot',
    boot: 'boot-running.txt',
    uptime: 100_000,
    now: T + 100,
    expected: 'poweroff max-lifetime uptime_s=100000 limit_s=86400',
  },
  // Boot in progress, stalled, failed.
  {
    name: 'boot making progress is never idle',
    boot: 'boot-running.txt',
    uptime: 4000,
    now: T + 3599,
    expected: 'keep booting updated_s_ago=3599',
  },
  {
    name: 'boot with no progress for an hour counts as idle since its last write',
    boot: 'boot-running.txt',
    uptime: 4000,
    now: T + 3600,
    expected: 'poweroff idle idle_s=3600 limit_s=2400 since=boot-running',
  },
  {
    name: 'failed boot, recently',
    boot: 'boot-failed.txt',
    uptime: 900,
    now: T + 600,
    expected: 'keep idle idle_s=600 limit_s=2400 since=boot-failed',
  },
  {
    name: 'failed boot, long ago (dead gateway): powered off',
    boot: 'boot-failed.txt',
    uptime: 3000,
    now: T + 2400,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=boot-failed',
  },
  // A later boot (stopped instance started again): old activity does not count against it.
  {
    name: 'restarted instance: idle counts from this boot, not from old requests',
    log: 'activity-recent.txt',
    boot: 'boot-ready.txt',
    uptime: 120,
    now: T + 100_000,
    expected: 'keep idle idle_s=120 limit_s=2400 since=boot',
  },
  {
    name: 'restarted instance nobody used',
    log: 'activity-recent.txt',
    boot: 'boot-ready.txt',
    uptime: 2400,
    now: T + 100_000,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=boot',
  },
  {
    name: 'a "running" status left by a previous boot does not hold this one forever',
    boot: 'boot-running.txt',
    uptime: 2400,
    now: T + 50_000,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=boot',
  },
  // Clock edge cases.
  {
    name: 'clock stepped back: a future timestamp counts as now',
    log: 'activity-future.txt',
    boot: 'boot-ready.txt',
    uptime: 5000,
    now: T + 1000,
    expected: 'keep idle idle_s=0 limit_s=2400 since=request',
  },
  {
    name: 'clock stepped back before the boot status was written',
    boot: 'boot-running.txt',
    uptime: 10,
    now: T - 500,
    expected: 'keep booting updated_s_ago=-500',
  },
  {
    name: 'a half-written boot status is ignored',
    boot: 'boot-truncated.txt',
    uptime: 2400,
    now: T + 10_000,
    expected: 'poweroff idle idle_s=2400 limit_s=2400 since=boot',
  },
  {
    name: 'no boot status and no log: idle since boot',
    uptime: 100,
    now: T,
    expected: 'keep idle idle_s=100 limit_s=2400 since=boot',
  },
  {
    name: 'fractional now is truncated',
    log: 'activity-recent.txt',
    uptime: 5000,
    now: `${T + 3399}.999`,
    expected: 'keep idle idle_s=2399 limit_s=2400 since=request',
  },
  {
    name: 'zero grace: the VM follows the idle timeout exactly',
    log: 'activity-recent.txt',
    uptime: 5000,
    now: T + 1020,
    idle: 20,
    grace: 0,
    expected: 'poweroff idle idle_s=20 limit_s=20 since=request',
  },
]

describe('exollama-watchdog decide', () => {
  it.each(cases)('$name', (c) => {
    const result = decide(c)
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    expect(result.stdout.trim()).toBe(c.expected)
  })

  it.each([
    { args: { uptime: 'abc', now: T }, message: "uptime must be a non-negative number, got 'abc'" },
    { args: { uptime: '-5', now: T }, message: "uptime must be a non-negative number, got '-5'" },
    { args: { uptime: 10, now: '$(touch /tmp/x)' }, message: 'now must be a non-negative number' },
    { args: { uptime: 10, now: T, inFlight: Number.NaN }, message: 'in-flight must be' },
  ])('rejects bad input: $message', ({ args, message }) => {
    const result = decide(args)
    expect(result.status).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain(message)
  })

  it('requires the settings (from the unit’s EnvironmentFile or flags)', () => {
    const result = spawnSync(
      'bash',
      [script, 'decide', '--log', fx('activity-empty.txt'), '--uptime', '1', '--now', '1'],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      },
    )
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("idle must be a non-negative number, got ''")
    const fromEnv = spawnSync(
      'bash',
      [script, 'decide', '--log', fx('activity-empty.txt'), '--uptime', '2400', '--now', String(T)],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '',
          EXOLLAMA_IDLE_TIMEOUT: '2000',
          EXOLLAMA_WATCHDOG_GRACE: '400',
          EXOLLAMA_MAX_LIFETIME: '86400',
        },
      },
    )
    expect(fromEnv.stdout.trim()).toBe('poweroff idle idle_s=2400 limit_s=2400 since=boot')
  })

  it('rejects unknown arguments and a flag without value', () => {
    expect(
      spawnSync('bash', [script, 'decide', '--bogus', '1'], { encoding: 'utf8' }).stderr,
    ).toContain("unknown argument '--bogus'")
    expect(spawnSync('bash', [script, 'decide', '--log'], { encoding: 'utf8' }).stderr).toContain(
      "missing value for '--log'",
    )
  })
})

describe('exollama-watchdog run', () => {
  /** A fake VM root: /proc/uptime, the state dir, and a systemctl that only records. */
  function vm(options: { uptime: string; log?: string; boot?: string }) {
    const root = mkdtempSync(path.join(dir, 'vm-'))
    mkdirSync(path.join(root, 'proc'))
    mkdirSync(path.join(root, 'var/lib/exollama'), { recursive: true })
    mkdirSync(path.join(root, 'bin'))
    writeFileSync(path.join(root, 'proc/uptime'), `${options.uptime} 12345.67\n`)
    if (options.log !== undefined)
      writeFileSync(path.join(root, 'var/lib/exollama/activity.log'), options.log)
    if (options.boot !== undefined)
      writeFileSync(path.join(root, 'var/lib/exollama/boot.json'), options.boot)
    const calls = path.join(root, 'systemctl-calls')
    writeFileSync(path.join(root, 'bin/systemctl'), `#!/bin/sh\necho "$*" >> '${calls}'\n`)
    chmodSync(path.join(root, 'bin/systemctl'), 0o755)
    const run = (env: Record<string, string>) =>
      spawnSync('bash', [script, 'run'], {
        encoding: 'utf8',
        env: { PATH: `${root}/bin:${process.env.PATH ?? ''}`, EXOLLAMA_ROOT: root, ...env },
      })
    const systemctlCalls = () => {
      try {
        return readFileSync(calls, 'utf8').trim().split('\n')
      } catch {
        return []
      }
    }
    return { root, run, systemctlCalls }
  }

  const settings = {
    EXOLLAMA_IDLE_TIMEOUT: '1800',
    EXOLLAMA_WATCHDOG_GRACE: '600',
    EXOLLAMA_MAX_LIFETIME: '86400',
  }

  it('powers off past the maximum lifetime', () => {
    const v = vm({ uptime: '86400.50' })
    const result = v.run(settings)
    expect(result.status).toBe(0)
    expect(result.stdout).toContain('poweroff max-lifetime uptime_s=86400 limit_s=86400')
    expect(v.systemctlCalls()).toEqual(['poweroff'])
  })

  it('does nothing while the VM is in use', () => {
    const now = Math.floor(Date.now() / 1000)
    const v = vm({ uptime: '5000.00', log: `${now - 5}.123 200 POST /api/chat 1.0\n` })
    const result = v.run(settings)
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/keep idle idle_s=\d+ limit_s=2400 since=request/)
    expect(v.systemctlCalls()).toEqual([])
  })

  it('powers off an idle VM and trims an oversized activity log to its last line', () => {
    const now = Math.floor(Date.now() / 1000)
    const line = `${now - 10_000}.000 200 POST /api/generate 1.0\n`
    const big =
      `${now - 20_000}.000 200 POST /api/chat 1.0 ${'x'.repeat(200)}\n`.repeat(90_000) + line
    const v = vm({ uptime: '50000.0', log: big })
    const result = v.run(settings)
    expect(result.stdout).toMatch(/poweroff idle idle_s=1000\d limit_s=2400 since=request/)
    expect(v.systemctlCalls()).toEqual(['poweroff'])
    expect(readFileSync(path.join(v.root, 'var/lib/exollama/activity.log'), 'utf8')).toBe(line)
  })
})
