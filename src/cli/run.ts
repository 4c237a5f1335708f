import { CommanderError, type Command } from 'commander'
import { InvalidSettingError } from '../config/index.js'
import { isExollamaError } from '../shared/index.js'
import type { ActionHost } from './action.js'
import { clockOf } from './context.js'
import { defaultDeps, type CliDeps } from './deps.js'
import { InterruptedError } from './errors.js'
import { EXIT_CODES, exitCodeFor } from './exit-codes.js'
import type { CliIo } from './io.js'
import { oneLine, Output } from './output.js'
import { buildProgram } from './program.js'

/** The names of the command given in `argv` ("config set"), for the usage hint. */
function commandPath(program: Command, argv: readonly string[]): string[] {
  const path: string[] = []
  let current = program
  for (const arg of argv) {
    if (arg.startsWith('-')) continue
    const sub = current.commands.find((c) => c.name() === arg || c.aliases().includes(arg))
    if (!sub) break
    path.push(sub.name())
    current = sub
  }
  return path
}

function usageMessage(error: CommanderError, program: Command, argv: readonly string[]): string {
  const text = error.message
    .replace(/^error:\s*/i, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/\.$/, '')
  const help = ['exollama', ...commandPath(program, argv), '--help'].join(' ')
  return `${text}; run "${help}" for usage`
}

function stackOf(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current))
    current = current instanceof Error ? current.cause : undefined
    if (current !== undefined) parts.push('caused by:')
  }
  return parts.join('\n')
}

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit code. Only here are
 * errors turned into output: one line on stderr (the last one) saying what is wrong and what to
 * do, a stack trace before it only with --verbose, and with --json an `{"error"}` object on
 * stdout when the command printed nothing there yet. Only src/main.ts exits.
 */
export async function run(argv: string[], io: CliIo, deps: Partial<CliDeps> = {}): Promise<number> {
  const clock = clockOf(io)
  const host: ActionHost = {
    env: { io, deps: { ...defaultDeps, ...deps }, clock, startedAt: clock.now() },
    current: undefined,
    exitCode: EXIT_CODES.ok,
  }
  const program = buildProgram(host)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return host.exitCode
  } catch (error) {
    const json = argv.includes('--json')
    const verbose = argv.includes('--verbose')
    let out = host.current?.out
    if (!out) {
      out = new Output(io, { json })
      for (const name of ['EXOSCALE_API_KEY', 'EXOSCALE_API_SECRET', 'EXOSCALE_OLLAMA_KEY']) {
        out.addSecret(io.env[name])
      }
    }
    let code: number
    let message: string
    let errorCode: string
    let kind: string
    if (error instanceof CommanderError) {
      // --help and --version end as "errors" with exit code 0; they already printed.
      if (error.exitCode === 0) return EXIT_CODES.ok
      code = EXIT_CODES.usage
      errorCode = 'usage'
      kind = 'usage'
      // Help asked for by giving no command: commander printed it to stderr.
      if (error.code === 'commander.help') return code
      message = usageMessage(error, program, argv)
    } else {
      code = exitCodeFor(error)
      // A value given as a flag (serve --listen) is a usage error, not a configuration one.
      if (error instanceof InvalidSettingError && error.origin === 'flag') code = EXIT_CODES.usage
      errorCode = isExollamaError(error) ? error.code : 'internal'
      kind = code === EXIT_CODES.usage ? 'usage' : isExollamaError(error) ? error.kind : 'internal'
      const text = error instanceof Error ? error.message : String(error)
      message = isExollamaError(error)
        ? text
        : `internal error: ${text} (run again with --verbose for the stack trace, and please report it)`
      if (error instanceof InterruptedError) message = error.message
    }
    if (json && !out.jsonWritten) {
      out.writeJson({
        error: { code: errorCode, kind, message: out.scrub(oneLine(message)) },
        exit_code: code,
      })
    }
    if (verbose && !(error instanceof CommanderError)) out.writeErr(`${stackOf(error)}\n`)
    out.error(message)
    return code
  }
}
