import { ExollamaError } from '../shared/index.js'

/** The command line was wrong (a bad flag value, a missing argument). Exit code 2. */
export class CliUsageError extends ExollamaError {
  override name = 'CliUsageError'

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(options.code ?? 'usage', message, { kind: 'usage', cause: options.cause })
  }
}

/** The command needs a part that this build does not wire in yet (see src/cli/deps.ts). */
export class NotAvailableError extends ExollamaError {
  override name = 'NotAvailableError'
  readonly command: string

  constructor(command: string) {
    super(
      'not_available',
      `"exollama ${command}" is not available in this build: the lifecycle and gateway are not wired into the CLI yet; "exollama config", "keys", "cost" and "logs" work meanwhile`,
      { kind: 'internal' },
    )
    this.command = command
  }
}

/** The work was interrupted (SIGINT/SIGTERM) before it finished. Exit code 130. */
export class InterruptedError extends ExollamaError {
  override name = 'InterruptedError'

  constructor(cause?: unknown) {
    super('interrupted', 'interrupted before the command finished; run it again to continue', {
      kind: 'internal',
      cause,
    })
  }
}
