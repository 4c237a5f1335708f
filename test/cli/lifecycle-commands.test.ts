import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Progress } from '../../src/app/index.js'
import { EXIT_CODES } from '../../src/cli/index.js'
import { ExollamaError, ManualClock } from '../../src/shared/index.js'
import { ABSENT_STATUS, FakeLifecycle, READY_STATUS, fakeDeps } from './helpers/fake-lifecycle.js'
import {
  hasAnsi,
  oneJsonObject,
  runCli,
  sandbox,
  startCli,
  type Sandbox,
} from './helpers/harness.js'
import { until } from './helpers/until.js'

let box: Sandbox
let lifecycle: FakeLifecycle
let clock: ManualClock
const NOW = Date.parse('2026-01-15T12:00:00.000Z')

beforeEach(() => {
  box = sandbox()
  lifecycle = new FakeLifecycle()
  clock = new ManualClock(NOW)
})
afterEach(() => box.cleanup())

const START_PROGRESS: Progress[] = [
  { kind: 'phase', phase: 'provisioning', elapsedMs: 0, message: 'creating the instance' },
  { kind: 'phase', phase: 'booting', elapsedMs: 8200, boot: { phase: 'booting', percent: 5 } },
  { kind: 'phase', phase: 'booting', elapsedMs: 20_000, boot: { phase: 'packages', percent: 20 } },
  { kind: 'phase', phase: 'booting', elapsedMs: 21_000, boot: { phase: 'packages', percent: 25 } },
  { kind: 'phase', phase: 'pulling-model', elapsedMs: 90_000, message: 'qwen2.5:0.5b' },
  { kind: 'phase', phase: 'ready', elapsedMs: 125_000 },
]

const errorLines = (stderr: string) => stderr.split('\n').filter(Boolean)

describe('status', () => {
  it('prints the full status object as one JSON object', async () => {
    const r = await runCli(box, ['status', '--json'], { deps: fakeDeps(lifecycle), clock })
    expect(r.code).toBe(0)
    expect(oneJsonObject(r.stdout)).toEqual(READY_STATUS)
    expect(r.stderr).toBe('')
    expect(lifecycle.calls.map((c) => c.method)).toEqual(['status'])
    expect(lifecycle.closed).toBe(1)
  })

  it('fills every field of the status object when the source leaves some out', async () => {
    lifecycle.statusResult = { state: 'absent', simulated: true }
    const r = await runCli(box, ['status', '--json'], {
      deps: fakeDeps(lifecycle),
      env: { EXOSCALE_IDLE_TIMEOUT: '600', EXOLLAMA_IDLE_ACTION: 'stop', EXOLLAMA_CURRENCY: 'EUR' },
    })
    expect(oneJsonObject(r.stdout)).toEqual({
      state: 'absent',
      simulated: true,
      instance: null,
      idle: { timeout_s: 600, remaining_s: null, action: 'stop' },
      models: [],
      cost: { currency: 'EUR', session: null, month: null },
    })
  })

  it('renders the state, instance, idle timer, models, cost so far and credential source for people', async () => {
    const r = await runCli(box, ['status'], {
      deps: fakeDeps(lifecycle),
      clock,
      env: {
        EXOSCALE_API_KEY: 'EXOstatuskey000000000',
        EXOSCALE_API_SECRET: 'status-secret-canary-1',
      },
    })
    expect(r.code).toBe(0)
    expect(hasAnsi(r.stdout)).toBe(false)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe('exollama: ready')
    expect(r.stdout).toMatch(/instance\s+exollama 4f1d6c8e-2b7a-4c3e-9d5f-0a1b2c3d4e5f\n/)
    expect(r.stdout).toMatch(
      /standard\.medium in ch-gva-2, ip 203\.0\.113\.10, created 1h 00m ago\n/,
    )
    expect(r.stdout).toMatch(/idle\s+destroy after 30m 00s without requests, 20m 00s left\n/)
    expect(r.stdout).toMatch(/models\s+qwen2\.5:0\.5b\n/)
    expect(r.stdout).toMatch(
      /cost\s+CHF 0\.0467 for the current instance so far, CHF 1\.25 this month\n/,
    )
    expect(r.stdout).toMatch(/credentials\s+from the environment\n/)
    expect(r.stdout).toMatch(/gateway\s+http:\/\/127\.0\.0\.1:11434 \(EXOLLAMA_LISTEN\)\n/)
    expect(r.stdout + r.stderr).not.toMatch(/status-secret-canary|EXOstatuskey/)
  })

  it('shows the boot progress, an error and the simulated mode', async () => {
    lifecycle.statusResult = {
      ...ABSENT_STATUS,
      state: 'error',
      boot: {
        state: 'failed',
        phase: 'docker',
        percent: 30,
        error: 'docker did not start',
        gpu: false,
      },
      error: { code: 'boot_failed', message: 'the instance failed to boot' },
    }
    const r = await runCli(box, ['status'], {
      deps: fakeDeps(lifecycle),
      env: { EXOLLAMA_NAME: 'lab' },
    })
    expect(r.stdout.split('\n')[0]).toBe(
      'exollama (lab): error  (simulated: nothing runs on Exoscale)',
    )
    expect(r.stdout).toMatch(
      /boot\s+failed, docker \[█████░░░░░░░░░░░\] 30%: docker did not start\n/,
    )
    expect(r.stdout).toMatch(/error\s+the instance failed to boot \[boot_failed\]\n/)
    expect(r.stdout).toMatch(/instance\s+none/)
    expect(r.stdout).toMatch(/cost\s+no instance running\n/)
    expect(r.stdout).toMatch(/credentials\s+none configured \(simulated\)/)
  })

  it('uses colours on a terminal unless NO_COLOR is set', async () => {
    const coloured = await runCli(box, ['status'], {
      deps: fakeDeps(lifecycle),
      tty: true,
      env: { NO_COLOR: undefined },
    })
    expect(hasAnsi(coloured.stdout)).toBe(true)
    const plain = await runCli(box, ['status'], { deps: fakeDeps(lifecycle), tty: true })
    expect(hasAnsi(plain.stdout)).toBe(false)
  })

  it('maps each error kind to its exit code, with one line on stderr', async () => {
    const cases = [
      [
        new ExollamaError(
          'exoscale_invalid_credentials',
          'Exoscale rejected the credentials: check EXOSCALE_API_KEY',
          { kind: 'cloud' },
        ),
        EXIT_CODES.cloud,
      ],
      [
        new ExollamaError('missing_setting', 'EXOSCALE_ZONE is missing', { kind: 'config' }),
        EXIT_CODES.config,
      ],
      [
        new ExollamaError('wake_timeout', 'not ready within 900 s', { kind: 'timeout' }),
        EXIT_CODES.timeout,
      ],
      [new ExollamaError('bug', 'an invariant broke', { kind: 'internal' }), EXIT_CODES.internal],
    ] as const
    for (const [error, code] of cases) {
      lifecycle.failure = error
      const r = await runCli(box, ['status'], { deps: fakeDeps(lifecycle) })
      expect(r.code, error.code).toBe(code)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe(`exollama: ${error.message}\n`)
    }
    expect(lifecycle.closed).toBe(cases.length)
  })

  it('in --json mode also prints the error as one JSON object on stdout', async () => {
    lifecycle.failure = new ExollamaError(
      'exoscale_invalid_credentials',
      'Exoscale rejected the credentials',
      { kind: 'cloud' },
    )
    const r = await runCli(box, ['status', '--json'], { deps: fakeDeps(lifecycle) })
    expect(r.code).toBe(EXIT_CODES.cloud)
    expect(oneJsonObject(r.stdout)).toEqual({
      error: {
        code: 'exoscale_invalid_credentials',
        kind: 'cloud',
        message: 'Exoscale rejected the credentials',
      },
      exit_code: 4,
    })
    expect(errorLines(r.stderr)).toEqual(['exollama: Exoscale rejected the credentials'])
  })

  it('reports an unexpected exception as an internal error; the stack only with --verbose, before the last line', async () => {
    lifecycle.failure = new TypeError('cannot read properties of undefined')
    const quiet = await runCli(box, ['status'], { deps: fakeDeps(lifecycle) })
    expect(quiet.code).toBe(EXIT_CODES.internal)
    expect(errorLines(quiet.stderr)).toEqual([
      'exollama: internal error: cannot read properties of undefined (run again with --verbose for the stack trace, and please report it)',
    ])
    const verbose = await runCli(box, ['--verbose', 'status'], { deps: fakeDeps(lifecycle) })
    const lines = errorLines(verbose.stderr)
    expect(lines.length).toBeGreaterThan(2)
    expect(verbose.stderr).toMatch(/TypeError: cannot read properties of undefined\n\s+at /)
    expect(lines.at(-1)).toMatch(/^exollama: internal error: cannot read properties/)
    const after = await runCli(box, ['status', '--verbose'], { deps: fakeDeps(lifecycle) })
    expect(after.stderr).toMatch(/\n\s+at /)
  })

  it('without a wired lifecycle says so in one line', async () => {
    const r = await runCli(box, ['status'])
    expect(r.code).toBe(EXIT_CODES.internal)
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/^exollama: "exollama status" is not available in this build/),
    ])
  })
})

describe('start', () => {
  it('passes --timeout as timeoutMs counted from the command start', async () => {
    // Opening the lifecycle takes 5 s: the deadline does not move.
    const deps = fakeDeps(lifecycle, () => clock.advance(5000))
    const r = await runCli(box, ['start', '--timeout', '60', '--json'], { deps, clock })
    expect(r.code, r.stderr).toBe(0)
    expect(oneJsonObject(r.stdout)).toEqual(READY_STATUS)
    const options = lifecycle.calls[0]?.options as { timeoutMs: number; signal: AbortSignal }
    expect(options.timeoutMs).toBe(55_000)
    expect(options.signal).toBeInstanceOf(AbortSignal)
  })

  it('defaults the timeout to EXOLLAMA_WAKE_TIMEOUT', async () => {
    const deps = fakeDeps(lifecycle, () => clock.advance(2000))
    await runCli(box, ['start'], { deps, clock, env: { EXOLLAMA_WAKE_TIMEOUT: '120' } })
    expect((lifecycle.calls[0]?.options as { timeoutMs: number }).timeoutMs).toBe(118_000)
  })

  it('rejects a bad --timeout as a usage error before touching the lifecycle', async () => {
    for (const bad of ['0', 'soon', '-5', '1.5']) {
      const deps = fakeDeps(lifecycle)
      const r = await runCli(box, ['start', '--timeout', bad], { deps })
      expect(r.code, bad).toBe(EXIT_CODES.usage)
      expect(errorLines(r.stderr), bad).toHaveLength(1)
      expect(r.stderr).toContain('--timeout')
      expect(deps.opened).toHaveLength(0)
    }
  })

  it('prints one plain line per phase and boot step when stdout is not a terminal', async () => {
    lifecycle.progress = START_PROGRESS
    const r = await runCli(box, ['start'], { deps: fakeDeps(lifecycle), clock })
    expect(r.code).toBe(0)
    expect(hasAnsi(r.stdout)).toBe(false)
    expect(r.stdout).not.toContain('\r')
    const lines = r.stdout.split('\n')
    expect(lines.slice(0, 5)).toEqual([
      '[   0.0s] provisioning  creating the instance',
      '[   8.2s] booting  boot: booting 5%',
      '[  20.0s] booting  boot: packages 20%',
      '[  90.0s] pulling-model  qwen2.5:0.5b',
      '[ 125.0s] ready',
    ])
    expect(lines[5]).toBe('exollama: ready')
  })

  it('draws a live line on a terminal, without ANSI under NO_COLOR', async () => {
    lifecycle.progress = START_PROGRESS
    const plain = await runCli(box, ['start'], { deps: fakeDeps(lifecycle), clock, tty: true })
    expect(hasAnsi(plain.stdout)).toBe(false)
    expect(plain.stdout).toContain('\r')
    expect(plain.stdout).toContain('packages [████░░░░░░░░░░░░] 25%')
    // Each finished phase stays on screen with its duration.
    expect(plain.stdout).toMatch(/✓ provisioning\s+8\.2s {2}creating the instance\n/)
    expect(plain.stdout).toMatch(/✓ booting\s+1m 21s\n/)
    expect(plain.stdout).toMatch(/✓ ready\s+after 2m 05s\n/)

    const coloured = await runCli(box, ['start'], {
      deps: fakeDeps(lifecycle),
      clock,
      tty: true,
      env: { NO_COLOR: undefined },
    })
    expect(coloured.stdout).toContain('\u001b[2K')
  })

  it('keeps stdout to the JSON object in --json mode; progress only on a terminal stderr', async () => {
    lifecycle.progress = START_PROGRESS
    const piped = await runCli(box, ['start', '--json'], { deps: fakeDeps(lifecycle), clock })
    expect(oneJsonObject(piped.stdout)).toEqual(READY_STATUS)
    expect(piped.stderr).toBe('')
    const tty = await runCli(box, ['start', '--json'], {
      deps: fakeDeps(lifecycle),
      clock,
      tty: true,
    })
    expect(oneJsonObject(tty.stdout)).toEqual(READY_STATUS)
    expect(tty.stderr).toContain('booting')
  })

  it('on failure the error is the last line on stderr, with the timeout exit code', async () => {
    lifecycle.progress = START_PROGRESS.slice(0, 3)
    lifecycle.failure = new ExollamaError(
      'wake_timeout',
      'the instance was not ready within 60 s; it was deleted. Try a larger --timeout',
      { kind: 'timeout' },
    )
    for (const argv of [['start'], ['start', '--json'], ['start', '--verbose']]) {
      for (const tty of [false, true]) {
        const r = await runCli(box, [...argv, '--timeout', '60'], {
          deps: fakeDeps(lifecycle),
          clock,
          tty,
        })
        expect(r.code).toBe(EXIT_CODES.timeout)
        expect(r.stderr.endsWith('\n')).toBe(true)
        expect(r.stderr.split('\n').at(-2)).toBe(
          'exollama: the instance was not ready within 60 s; it was deleted. Try a larger --timeout',
        )
      }
    }
  })

  it('exits 130 when interrupted while waiting', async () => {
    let release = () => {}
    lifecycle.hold = new Promise<void>((resolve) => (release = resolve))
    const stop = new AbortController()
    const cli = startCli(box, ['start'], { deps: fakeDeps(lifecycle), signal: stop.signal })
    await until(() => lifecycle.calls.length > 0)
    stop.abort(new Error('received SIGINT'))
    release()
    expect(await cli.promise).toBe(EXIT_CODES.interrupted)
    expect(cli.stderr.text.split('\n').filter(Boolean).at(-1)).toMatch(/^exollama: interrupted/)
    expect(lifecycle.closed).toBe(1)
  })
})

describe('stop and destroy', () => {
  it('print the resulting status object, and their own errors with their exit codes', async () => {
    for (const command of ['stop', 'destroy'] as const) {
      lifecycle.transitionResult =
        command === 'stop' ? { ...READY_STATUS, state: 'stopped' } : ABSENT_STATUS
      const r = await runCli(box, [command, '--json'], { deps: fakeDeps(lifecycle) })
      expect(r.code).toBe(0)
      expect(oneJsonObject(r.stdout)).toEqual(lifecycle.transitionResult)
      expect(lifecycle.calls.at(-1)?.method).toBe(command)
      const human = await runCli(box, [command], { deps: fakeDeps(lifecycle) })
      expect(human.stdout.split('\n')[0]).toMatch(
        command === 'stop' ? /: stopped$/ : /: absent {2}\(simulated/,
      )
    }
    lifecycle.failure = new ExollamaError('exoscale_conflict', 'the instance is busy; try again', {
      kind: 'cloud',
    })
    const r = await runCli(box, ['destroy'], { deps: fakeDeps(lifecycle) })
    expect(r.code).toBe(EXIT_CODES.cloud)
    expect(r.stderr).toBe('exollama: the instance is busy; try again\n')
  })

  it('shows stop progress as it comes', async () => {
    lifecycle.transitionResult = { ...READY_STATUS, state: 'stopped' }
    lifecycle.progress = [
      { kind: 'phase', phase: 'stopping', elapsedMs: 0 },
      { kind: 'phase', phase: 'stopped', elapsedMs: 12_000 },
    ]
    const r = await runCli(box, ['stop'], { deps: fakeDeps(lifecycle) })
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['[   0.0s] stopping', '[  12.0s] stopped'])
  })
})

describe('pull and models', () => {
  const PULL: Progress[] = [
    { kind: 'pull', model: 'qwen2.5:0.5b', status: 'pulling manifest' },
    {
      kind: 'pull',
      model: 'qwen2.5:0.5b',
      status: 'pulling c5396e06af29',
      completed: 0,
      total: 400_000_000,
    },
    {
      kind: 'pull',
      model: 'qwen2.5:0.5b',
      status: 'pulling c5396e06af29',
      completed: 120_000_000,
      total: 400_000_000,
    },
    {
      kind: 'pull',
      model: 'qwen2.5:0.5b',
      status: 'pulling c5396e06af29',
      completed: 130_000_000,
      total: 400_000_000,
    },
    {
      kind: 'pull',
      model: 'qwen2.5:0.5b',
      status: 'pulling c5396e06af29',
      completed: 400_000_000,
      total: 400_000_000,
    },
    { kind: 'pull', model: 'qwen2.5:0.5b', status: 'verifying sha256 digest' },
    { kind: 'pull', model: 'qwen2.5:0.5b', status: 'success' },
  ]

  it('pull shows bytes and percent, and names the model', async () => {
    lifecycle.progress = PULL
    const r = await runCli(box, ['pull', 'qwen2.5:0.5b'], { deps: fakeDeps(lifecycle), clock })
    expect(r.code).toBe(0)
    expect(lifecycle.calls[0]).toMatchObject({ method: 'pull', model: 'qwen2.5:0.5b' })
    const lines = r.stdout.split('\n').map((l) => l.replace(/^\[\s*[\d.]+s\] /, ''))
    expect(lines).toEqual([
      'pulling qwen2.5:0.5b: pulling manifest',
      'pulling qwen2.5:0.5b: pulling c5396e06af29 0% (0 B / 400 MB)',
      'pulling qwen2.5:0.5b: pulling c5396e06af29 30% (120 MB / 400 MB)',
      'pulling qwen2.5:0.5b: pulling c5396e06af29 100% (400 MB / 400 MB)',
      'pulling qwen2.5:0.5b: verifying sha256 digest',
      'pulling qwen2.5:0.5b: success',
      '✓ pulled qwen2.5:0.5b',
      '',
    ])
    const live = await runCli(box, ['pull', 'qwen2.5:0.5b'], {
      deps: fakeDeps(lifecycle),
      clock,
      tty: true,
      columns: 120,
    })
    expect(live.stdout).toContain(
      'qwen2.5:0.5b  pulling c5396e06af29  [█████░░░░░░░░░░░]  30%  120 MB / 400 MB',
    )
    expect(live.stdout).toMatch(/✓ qwen2\.5:0\.5b: pulling c5396e06af29 {2}400 MB\n/)
    const json = await runCli(box, ['pull', 'qwen2.5:0.5b', '--json'], {
      deps: fakeDeps(lifecycle),
    })
    expect(oneJsonObject(json.stdout)).toEqual({ model: 'qwen2.5:0.5b', status: 'success' })
  })

  it('pull refuses a name that is no model name, and needs one', async () => {
    const deps = fakeDeps(lifecycle)
    expect((await runCli(box, ['pull', 'two words'], { deps })).code).toBe(EXIT_CODES.usage)
    const missing = await runCli(box, ['pull'], { deps })
    expect(missing.code).toBe(EXIT_CODES.usage)
    expect(missing.stderr).toBe(
      `exollama: missing required argument 'MODEL'; run "exollama pull --help" for usage\n`,
    )
    expect(deps.opened).toHaveLength(0)
  })

  it('models lists names, sizes and dates, or says there are none', async () => {
    const r = await runCli(box, ['models'], { deps: fakeDeps(lifecycle) })
    expect(r.stdout).toBe(
      'NAME          SIZE    MODIFIED\nqwen2.5:0.5b  398 MB  2026-01-15T11:05:00Z\n',
    )
    const json = await runCli(box, ['models', '--json'], { deps: fakeDeps(lifecycle) })
    expect(oneJsonObject(json.stdout)).toEqual({ models: lifecycle.models_ })
    lifecycle.models_ = []
    expect((await runCli(box, ['models'], { deps: fakeDeps(lifecycle) })).stdout).toMatch(
      /^no models yet/,
    )
  })
})
