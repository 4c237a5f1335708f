import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES, type CliDeps, type ServeOptions } from '../../src/cli/index.js'
import type { Config } from '../../src/config/index.js'
import { runCli, sandbox, startCli, type Sandbox } from './helpers/harness.js'
import { until } from './helpers/until.js'

let box: Sandbox
beforeEach(() => (box = sandbox()))
afterEach(() => box.cleanup())

const CREDENTIALS = {
  EXOSCALE_API_KEY: 'EXOservekeycanary00000000',
  EXOSCALE_API_SECRET: 'serve-secret-canary-000001',
}

/** A FAKE gateway: says it is ready, logs a line, and runs until the signal aborts. */
function fakeServe() {
  const seen: { config: Config; options: ServeOptions }[] = []
  const serve: CliDeps['serve'] = async (config, options) => {
    seen.push({ config, options })
    const { host, port } = config.values.EXOLLAMA_LISTEN
    options.onReady({ url: `http://${host}:${port}` })
    options.logger.info(
      { route: '/api/version' },
      `gateway up (key ${CREDENTIALS.EXOSCALE_API_SECRET})`,
    )
    await new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve()
      options.signal.addEventListener('abort', () => resolve(), { once: true })
    })
  }
  return { seen, serve }
}

async function serveUntilReady(argv: string[], env: Record<string, string> = {}) {
  const fake = fakeServe()
  const stop = new AbortController()
  const cli = startCli(box, ['serve', ...argv], {
    deps: { serve: fake.serve },
    env,
    signal: stop.signal,
  })
  await until(() => fake.seen.length > 0 || cli.stderr.text.includes('exollama:'), 'serve to start')
  stop.abort(new Error('received SIGTERM'))
  const code = await cli.promise
  return { code, stdout: cli.stdout.text, stderr: cli.stderr.text, seen: fake.seen }
}

describe('serve', () => {
  it('without credentials runs simulated and says so loudly; --listen sets EXOLLAMA_LISTEN; ends cleanly on SIGTERM', async () => {
    const r = await serveUntilReady(['--listen', '127.0.0.1:18080'])
    expect(r.code).toBe(0)
    const [run] = r.seen
    expect(run?.options.mode).toEqual({ kind: 'simulate', reason: 'no-credentials' })
    expect(run?.config.values.EXOLLAMA_LISTEN).toEqual({ host: '127.0.0.1', port: 18080 })
    expect(run?.config.settings.EXOLLAMA_LISTEN.source).toBe('flag')
    expect(r.stderr).toMatch(
      /^exollama: warning: SIMULATED MODE: no Exoscale credentials are configured/,
    )
    expect(r.stdout).toContain(
      'exollama gateway on http://127.0.0.1:18080  (dashboard http://127.0.0.1:18080/ui/)',
    )
    expect(r.stdout).toMatch(/serving {2}SIMULATED Exoscale \(no credentials configured\)/)
    expect(r.stderr).toContain('exollama gateway stopped')
  })

  it('with credentials serves the cloud, and --simulate still simulates', async () => {
    const cloud = await serveUntilReady([], CREDENTIALS)
    expect(cloud.seen[0]?.options.mode).toEqual({ kind: 'cloud' })
    expect(cloud.stdout).toMatch(
      /serving {2}Exoscale ch-gva-2, standard\.medium, credentials from the environment/,
    )
    expect(cloud.stderr).not.toContain('SIMULATED')
    const simulated = await serveUntilReady(['--simulate'], CREDENTIALS)
    expect(simulated.seen[0]?.options.mode).toEqual({ kind: 'simulate', reason: 'flag' })
    expect(simulated.stdout).toContain('SIMULATED Exoscale (--simulate)')
  })

  it('--backend forwards to a URL and needs no credentials', async () => {
    const r = await serveUntilReady([
      '--backend',
      'http://127.0.0.1:11435',
      '--listen',
      '127.0.0.1:0',
    ])
    expect(r.code).toBe(0)
    const mode = r.seen[0]?.options.mode
    expect(mode?.kind).toBe('backend')
    expect(mode?.kind === 'backend' && mode.url.href).toBe('http://127.0.0.1:11435/')
    expect(r.stdout).toContain('backend http://127.0.0.1:11435/ (static: nothing is provisioned)')
    expect(r.stderr).not.toContain('SIMULATED')
  })

  it('hands the gateway a logger that writes to stderr without secrets', async () => {
    const r = await serveUntilReady([], CREDENTIALS)
    const logLine = r.stderr.split('\n').find((l) => l.includes('gateway up'))
    expect(JSON.parse(logLine ?? '{}')).toMatchObject({ level: 30, route: '/api/version' })
    expect(r.stdout + r.stderr).not.toContain(CREDENTIALS.EXOSCALE_API_SECRET)
    expect(logLine).toContain('[redacted]')
  })

  it('refuses bad flags as usage errors and half-set credentials as a config error, before serving', async () => {
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [
        ['--listen', 'nohost'],
        {},
        EXIT_CODES.usage,
        /EXOLLAMA_LISTEN: "nohost" is not valid: .*given on the command line/,
      ],
      [
        ['--backend', 'ftp://example.com'],
        {},
        EXIT_CODES.usage,
        /--backend: "ftp:\/\/example\.com" is not valid/,
      ],
      [['--backend', 'http://u:p@127.0.0.1:1'], {}, EXIT_CODES.usage, /--backend/],
      [
        ['--backend', 'http://127.0.0.1:1', '--simulate'],
        {},
        EXIT_CODES.usage,
        /exclude each other/,
      ],
      [
        [],
        { EXOSCALE_API_KEY: CREDENTIALS.EXOSCALE_API_KEY },
        EXIT_CODES.config,
        /EXOSCALE_API_SECRET is missing/,
      ],
      [['--port', '1'], {}, EXIT_CODES.usage, /unknown option '--port'/],
    ]
    for (const [argv, env, code, message] of cases) {
      const fake = fakeServe()
      const r = await runCli(box, ['serve', ...argv], { deps: { serve: fake.serve }, env })
      expect(r.code, argv.join(' ')).toBe(code)
      expect(r.stderr.split('\n').filter(Boolean), argv.join(' ')).toEqual([
        expect.stringMatching(message),
      ])
      expect(fake.seen).toHaveLength(0)
    }
  })

  it('without a wired gateway says so in one line', async () => {
    const r = await runCli(box, ['serve', '--backend', 'http://127.0.0.1:1'])
    expect(r.code).toBe(EXIT_CODES.internal)
    expect(r.stderr).toMatch(/^exollama: "exollama serve" is not available in this build/m)
  })
})
