import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/cli/index.js'
import { hasAnsi, oneJsonObject, REPO, runCli, sandbox, type Sandbox } from './helpers/harness.js'

let box: Sandbox
beforeEach(() => (box = sandbox()))
afterEach(() => box.cleanup())

const COMMANDS = [
  ['serve'],
  ['status'],
  ['start'],
  ['stop'],
  ['destroy'],
  ['logs'],
  ['pull'],
  ['models'],
  ['config'],
  ['config', 'get'],
  ['config', 'set'],
  ['config', 'unset'],
  ['config', 'list'],
  ['cost'],
  ['keys'],
  ['keys', 'create'],
  ['keys', 'list'],
  ['keys', 'revoke'],
]

describe('help', () => {
  it('lists the commands, the exit codes, and examples at the top level', async () => {
    const r = await runCli(box, ['--help'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    for (const name of [
      'serve',
      'status',
      'start',
      'stop',
      'destroy',
      'logs',
      'pull',
      'models',
      'config',
      'cost',
      'keys',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`\\n  ${name}\\b`))
    }
    expect(r.stdout).toContain('Exit codes:')
    for (const [code, what] of [
      [EXIT_CODES.usage, 'usage error'],
      [EXIT_CODES.config, 'configuration error'],
      [EXIT_CODES.cloud, 'cloud error'],
      [EXIT_CODES.timeout, 'timeout'],
    ] as const) {
      expect(r.stdout).toMatch(new RegExp(`\\n  ${code}\\s+${what}`))
    }
    expect(r.stdout).toContain('Examples:')
  })

  it('gives every command and subcommand examples in its --help', async () => {
    for (const command of COMMANDS) {
      const r = await runCli(box, [...command, '--help'])
      expect(r.code, command.join(' ')).toBe(0)
      expect(r.stdout, command.join(' ')).toContain('Examples:')
      expect(r.stdout, command.join(' ')).toContain(`$ exollama ${command.join(' ')}`)
      expect(r.stdout).toContain(`Usage: exollama ${command.join(' ')}`)
    }
    const viaHelp = await runCli(box, ['help', 'start'])
    expect(viaHelp.stdout).toContain('--timeout <seconds>')
  })

  it('documents every setting and what it accepts under config set --help', async () => {
    const r = await runCli(box, ['config', 'set', '--help'])
    expect(r.stdout).toContain('EXOSCALE_IDLE_TIMEOUT (default 1800)')
    expect(r.stdout).toContain('accepts an integer number of seconds between 5 and 2592000')
  })

  it('has no colours with NO_COLOR, even on a terminal', async () => {
    const r = await runCli(box, ['status', '--help'], { tty: true })
    expect(hasAnsi(r.stdout)).toBe(false)
  })

  it('prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      version: string
    }
    const r = await runCli(box, ['--version'])
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('with no command prints help on stderr and the usage exit code', async () => {
    for (const argv of [[], ['config'], ['keys']]) {
      const r = await runCli(box, argv)
      expect(r.code, argv.join(' ')).toBe(EXIT_CODES.usage)
      expect(r.stdout).toBe('')
      expect(r.stderr).toContain('Usage: exollama')
    }
  })
})

describe('usage errors', () => {
  it('are one line with a pointer to the right help, and exit code 2', async () => {
    const cases: [string[], string][] = [
      [
        ['status', '--jsn'],
        `exollama: unknown option '--jsn' (Did you mean --json?); run "exollama status --help" for usage`,
      ],
      [
        ['statsu'],
        `exollama: unknown command 'statsu' (Did you mean status?); run "exollama --help" for usage`,
      ],
      [
        ['stop', 'now'],
        `exollama: too many arguments for 'stop'. Expected 0 arguments but got 1; run "exollama stop --help" for usage`,
      ],
      [
        ['config', 'set', 'EXOSCALE_ZONE'],
        `exollama: missing required argument 'VALUE'; run "exollama config set --help" for usage`,
      ],
      [
        ['start', '--timeout'],
        `exollama: option '--timeout <seconds>' argument missing; run "exollama start --help" for usage`,
      ],
      [
        ['keys', 'rotate'],
        `exollama: unknown command 'rotate' (Did you mean create?); run "exollama keys --help" for usage`,
      ],
    ]
    for (const [argv, line] of cases) {
      const r = await runCli(box, argv)
      expect(r.code, argv.join(' ')).toBe(EXIT_CODES.usage)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe(`${line}\n`)
    }
  })

  it('with --json also give one JSON error object on stdout', async () => {
    const r = await runCli(box, ['status', '--json', '--bogus'])
    expect(r.code).toBe(EXIT_CODES.usage)
    expect(oneJsonObject(r.stdout)).toEqual({
      error: {
        code: 'usage',
        kind: 'usage',
        message: expect.stringContaining("unknown option '--bogus'"),
      },
      exit_code: 2,
    })
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1)
  })

  it('work with HOME pointing at an empty folder and no data dir set', async () => {
    const r = await runCli(box, ['config', 'get', 'EXOLLAMA_DATA_DIR'], {
      env: { EXOLLAMA_DATA_DIR: undefined },
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${path.join(box.home, '.local', 'share', 'exollama')}\n`)
  })
})
