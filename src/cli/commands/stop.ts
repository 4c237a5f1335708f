import type { Command } from 'commander'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { runTransition } from './transition.js'

/** `exollama stop [--json]`: powers the instance off and keeps its disk. */
export function registerStop(program: Command, host: ActionHost): void {
  program
    .command('stop')
    .description('power the instance off, keeping its disk')
    .option('--json', 'print the final status object as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama stop', 'power off now; "exollama start" powers it on again'],
        ['exollama stop --json', 'the resulting status object'],
      ),
    )
    .action(
      action(host, 'stop', async (ctx) => {
        const config = ctx.config()
        await runTransition(ctx, config, (lifecycle, options) => lifecycle.stop(options))
      }),
    )
}
