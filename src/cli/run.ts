import { Command, CommanderError } from 'commander'
import { isExollamaError, errorMessage } from '../shared/index.js'
import { EXIT_CODES } from './exit-codes.js'
import type { CliIo } from './io.js'

/** Builds the command tree. Each command's action resolves to an exit code. */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('exollama')
    .description('A private Ollama server on Exoscale that exists only while it is used.')
    .option('--verbose', 'print stack traces on errors')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
  void setExit
  return program
}

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit code. Only this
 * function turns errors into one line on stderr; only src/main.ts exits.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT_CODES.ok
  const program = buildProgram(io, (code) => (exitCode = code))
  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" to commander; they already printed.
      if (error.exitCode === 0) return EXIT_CODES.ok
      return EXIT_CODES.usage
    }
    const verbose = argv.includes('--verbose')
    const line = errorMessage(error).split('\n')[0] ?? 'unknown error'
    io.stderr.write(`exollama: ${line}\n`)
    if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`)
    return isExollamaError(error) ? EXIT_CODES[error.kind] : EXIT_CODES.internal
  }
}
