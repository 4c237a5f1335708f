import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/cli/index.js'
import { ExollamaError, ManualClock } from '../../src/shared/index.js'
import { openStore, type LifecycleEventInput, type Store } from '../../src/store/index.js'
import { sampleInstance } from '../../src/store/store.test-helper.js'
import { FakeLifecycle, READY_STATUS, fakeDeps } from './helpers/fake-lifecycle.js'
import { oneJsonObject, runCli, sandbox, startCli, type Sandbox } from './helpers/harness.js'
import { until } from './helpers/until.js'

let box: Sandbox
let clock: ManualClock
let store: Store
const T0 = Date.UTC(2026, 0, 15, 12)

const EVENTS: LifecycleEventInput[] = [
  {
    type: 'wake',
    message: 'wake requested',
    actor: 'request /api/chat from key k1a2b3c4d5',
    reason: 'wake by request',
    ts: T0,
  },
  {
    type: 'create',
    phase: 'provisioning',
    message: 'instance created',
    durationMs: 8200,
    instanceId: '4f1d6c8e-2b7a-4c3e-9d5f-0a1b2c3d4e5f',
    ts: T0 + 8200,
  },
  {
    type: 'boot',
    phase: 'image-pull',
    message: 'pulled ollama/ollama:0.32.15',
    durationMs: 65_000,
    ts: T0 + 73_200,
  },
  {
    type: 'ready',
    phase: 'ready',
    message: 'instance ready',
    durationMs: 125_000,
    ts: T0 + 125_000,
  },
  {
    type: 'idle',
    message: 'idle for 1800 s: destroying',
    actor: 'idle timer',
    reason: 'idle for 1800 s',
    ts: T0 + 2_000_000,
  },
  {
    type: 'error',
    message: 'destroy failed: Exoscale answered 503',
    errorCode: 'exoscale_server_error',
    ts: T0 + 2_000_500,
  },
]

beforeEach(() => {
  box = sandbox()
  clock = new ManualClock(T0 + 3_000_000)
  store = openStore({ dataDir: box.dataDir, clock })
  for (const e of EVENTS) store.events.append(e)
})
afterEach(() => {
  store.close()
  box.cleanup()
})

describe('logs', () => {
  it('shows the events oldest first: who woke it, each phase with its duration, idle decisions, errors', async () => {
    const r = await runCli(box, ['logs'], { clock })
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(6)
    expect(lines[0]).toMatch(
      / wake\s+wake requested {2}by request \/api\/chat from key k1a2b3c4d5 {2}— wake by request$/,
    )
    expect(lines[1]).toMatch(/ create\s+provisioning {2}instance created \(8\.2s\)$/)
    expect(lines[2]).toMatch(/ boot\s+image-pull {2}pulled ollama\/ollama:0\.32\.15 \(1m 05s\)$/)
    expect(lines[3]).toMatch(/ ready\s+ready {2}instance ready \(2m 05s\)$/)
    expect(lines[4]).toMatch(
      / idle\s+idle for 1800 s: destroying {2}by idle timer {2}— idle for 1800 s$/,
    )
    expect(lines[5]).toMatch(
      / error\s+destroy failed: Exoscale answered 503 {2}\[exoscale_server_error\]$/,
    )
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /)
  })

  it('limits to the last N with -n and prints one JSON object with --json', async () => {
    const r = await runCli(box, ['logs', '-n', '2', '--json'], { clock })
    const json = oneJsonObject(r.stdout)
    expect(json.boot).toBeNull()
    expect(json.cursor).toBe(6)
    expect(json.events).toEqual([
      {
        id: 5,
        time: new Date(T0 + 2_000_000).toISOString(),
        type: 'idle',
        message: 'idle for 1800 s: destroying',
        name: null,
        phase: null,
        duration_ms: null,
        actor: 'idle timer',
        reason: 'idle for 1800 s',
        error_code: null,
        instance_id: null,
        data: null,
      },
      expect.objectContaining({ id: 6, type: 'error', error_code: 'exoscale_server_error' }),
    ])
  })

  it('rejects a bad -n as a usage error', async () => {
    const r = await runCli(box, ['logs', '-n', 'many'], { clock })
    expect(r.code).toBe(EXIT_CODES.usage)
    expect(r.stderr).toMatch(
      /^exollama: --lines: "many" is not valid: expected a number of events between 0 and 1000\n$/,
    )
  })

  it('-f follows new events by cursor until interrupted, then exits 0', async () => {
    const stop = new AbortController()
    const cli = startCli(box, ['logs', '-f', '-n', '1'], { clock, signal: stop.signal })
    await until(() => clock.pendingCount > 0, 'the follow loop to sleep')
    expect(cli.stdout.text.trimEnd().split('\n')).toHaveLength(1)
    expect(cli.stdout.text).toContain('destroy failed')

    // Written by "another process": a second connection to the same file.
    const writer = openStore({ dataDir: box.dataDir, clock })
    writer.events.append({ type: 'wake', message: 'woken again', actor: 'cli' })
    writer.events.append({
      type: 'create',
      phase: 'provisioning',
      message: 'created again',
      durationMs: 5000,
    })
    await clock.advance(1000)
    await until(() => cli.stdout.text.includes('created again'), 'the new events')
    const lines = cli.stdout.text.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toMatch(/wake\s+woken again {2}by cli$/)
    expect(lines[2]).toMatch(/created again \(5\.0s\)$/)

    // Nothing is printed twice on the next rounds.
    await clock.advance(1000)
    writer.events.append({ type: 'stop', message: 'stopped by hand' })
    writer.close()
    await until(() => clock.pendingCount > 0)
    await clock.advance(1000)
    await until(() => cli.stdout.text.includes('stopped by hand'))
    expect(cli.stdout.text.trimEnd().split('\n')).toHaveLength(4)

    stop.abort(new Error('SIGINT'))
    expect(await cli.promise).toBe(0)
    expect(cli.stderr.text).toBe('')
  })

  it('-f --json prints one event per line', async () => {
    const stop = new AbortController()
    const cli = startCli(box, ['logs', '-f', '-n', '1', '--json'], { clock, signal: stop.signal })
    await until(() => clock.pendingCount > 0)
    store.events.append({ type: 'ready', phase: 'ready', message: 'ready again', durationMs: 1000 })
    await clock.advance(1000)
    await until(() => cli.stdout.text.includes('ready again'))
    stop.abort()
    expect(await cli.promise).toBe(0)
    const objects = cli.stdout.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: number; type: string })
    expect(objects.map((o) => [o.id, o.type])).toEqual([
      [6, 'error'],
      [7, 'ready'],
    ])
  })

  it('adds the boot status of a live instance, from the lifecycle', async () => {
    store.instances.save(sampleInstance({ state: 'booting' }))
    const lifecycle = new FakeLifecycle()
    lifecycle.statusResult = {
      ...READY_STATUS,
      state: 'booting',
      boot: { state: 'running', phase: 'packages', percent: 20, error: null, gpu: false },
    }
    const r = await runCli(box, ['logs'], { clock, deps: fakeDeps(lifecycle) })
    expect(r.code).toBe(0)
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(
      'instance boot: running, packages [███░░░░░░░░░░░░░] 20%',
    )
    expect(lifecycle.closed).toBe(1)
    const json = oneJsonObject(
      (await runCli(box, ['logs', '--json'], { clock, deps: fakeDeps(lifecycle) })).stdout,
    )
    expect(json.boot).toEqual({
      state: 'running',
      phase: 'packages',
      percent: 20,
      error: null,
      gpu: false,
    })
    expect(r.stdout).not.toContain('ollama-key-canary')
  })

  it('asks no lifecycle when no instance is live', async () => {
    store.instances.save(sampleInstance({ state: 'stopped' }))
    const deps = fakeDeps(new FakeLifecycle())
    const r = await runCli(box, ['logs'], { clock, deps })
    expect(r.code).toBe(0)
    expect(deps.opened).toHaveLength(0)
  })

  it('keeps working when the boot status cannot be read: a warning, exit 0', async () => {
    store.instances.save(sampleInstance({ state: 'ready' }))
    const lifecycle = new FakeLifecycle()
    lifecycle.failure = new ExollamaError('exoscale_network', 'cannot reach Exoscale', {
      kind: 'cloud',
    })
    const r = await runCli(box, ['logs'], { clock, deps: fakeDeps(lifecycle) })
    expect(r.code).toBe(0)
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(6)
    expect(r.stderr).toBe(
      "exollama: warning: could not read the instance's boot status: cannot reach Exoscale\n",
    )
    // Without a wired lifecycle (default deps) it says nothing.
    const quiet = await runCli(box, ['logs'], { clock })
    expect(quiet).toMatchObject({ code: 0, stderr: '' })
  })

  it('says so when there are no events', async () => {
    const empty = sandbox()
    try {
      const r = await runCli(empty, ['logs'])
      expect(r.stdout).toMatch(/^no events yet/)
      expect(oneJsonObject((await runCli(empty, ['logs', '--json'])).stdout)).toEqual({
        events: [],
        cursor: 0,
        boot: null,
      })
    } finally {
      empty.cleanup()
    }
  })
})
