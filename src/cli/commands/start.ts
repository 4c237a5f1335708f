import type { Command } from 'commander'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { parseIntegerFlag } from '../flags.js'
import { runTransition } from './transition.js'

/** `exollama start [--json] [--timeout S]`: brings the instance to ready, showing each phase. */
export function registerStart(program: Command, host: ActionHost): void {
  program
    .command('start')
    .description('create or power on the instance and wait until it is ready')
    .option('--json', 'print the final status object as one JSON object')
    .option(
      '--timeout <seconds>',
      'give up after this many seconds, counted from the command start (default EXOLLAMA_WAKE_TIMEOUT); an instance this command created is then deleted',
    )
    .addHelpText(
      'after',
      examples(
        ['exollama start', 'create or start the instance, with live progress'],
        ['exollama start --timeout 600', 'fail (exit code 5) if not ready within 10 minutes'],
        ['exollama start --json > status.json', 'progress on the terminal, the result as JSON'],
      ),
    )
    .action(
      action<{ timeout?: string }>(host, 'start', async (ctx, _args, options) => {
        const timeoutS =
          options.timeout === undefined
            ? undefined
            : parseIntegerFlag('--timeout', options.timeout, {
                min: 1,
                max: 7 * 86_400,
                what: 'a whole number of seconds',
              })
        const config = ctx.config()
        const deadlineMs = (timeoutS ?? config.values.EXOLLAMA_WAKE_TIMEOUT) * 1000
        await runTransition(ctx, config, (lifecycle, lifecycleOptions) =>
          lifecycle.start({
            ...lifecycleOptions,
            // The timeout counts from the command's start, not from here.
            timeoutMs: Math.max(1, deadlineMs - (ctx.clock.now() - ctx.startedAt)),
          }),
        )
      }),
    )
}
