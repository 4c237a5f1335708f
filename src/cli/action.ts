import type { Command } from 'commander'
import { CommandContext, type RunEnv } from './context.js'
import { InterruptedError } from './errors.js'

/** What the actions of one `run()` share: its environment, the running command, the exit code. */
export interface ActionHost {
  readonly env: RunEnv
  /** The context of the command being run (for the error report: --json mode, secrets). */
  current: CommandContext | undefined
  exitCode: number
}

/** The global and per-command flags every action understands. */
export interface CommonOptions {
  json?: boolean
  verbose?: boolean
}

/**
 * Wraps a command's work into a commander action: builds its context, records the exit code the
 * work returns (0 when it returns nothing), turns an error caused by SIGINT/SIGTERM into
 * InterruptedError, and always closes what the work opened.
 */
export function action<O extends object>(
  host: ActionHost,
  name: string,
  work: (ctx: CommandContext, args: string[], options: O & CommonOptions) => Promise<number | void>,
): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command
    const options = command.optsWithGlobals() as O & CommonOptions
    const args = raw.slice(0, -2).map((arg) => (Array.isArray(arg) ? arg.join(' ') : String(arg)))
    const ctx = new CommandContext(host.env, {
      command: name,
      json: options.json === true,
      verbose: options.verbose === true,
    })
    host.current = ctx
    try {
      const code = await work(ctx, args, options)
      host.exitCode = code ?? 0
    } catch (error) {
      if (ctx.signal.aborted && !(error instanceof InterruptedError)) {
        throw new InterruptedError(error)
      }
      throw error
    } finally {
      await ctx.close()
    }
  }
}
