import type { Command } from 'commander'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { runTransition } from './transition.js'

/** `exollama destroy [--json]`: deletes the instance (and its disk). */
export function registerDestroy(program: Command, host: ActionHost): void {
  program
    .command('destroy')
    .description('delete the instance and its disk')
    .option('--json', 'print the final status object as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama destroy', 'delete the instance now; nothing is billed afterwards'],
        ['exollama destroy --json', 'the resulting status object (state "absent")'],
      ),
    )
    .action(
      action(host, 'destroy', async (ctx) => {
        const config = ctx.config()
        await runTransition(ctx, config, (lifecycle, options) => lifecycle.destroy(options))
      }),
    )
}
