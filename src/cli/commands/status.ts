import type { Command } from 'commander'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { completeStatus, renderStatus } from '../status-view.js'

/** `exollama status [--json]`: the instance's state, idle timer, models, cost and credentials. */
export function registerStatus(program: Command, host: ActionHost): void {
  program
    .command('status')
    .description('show the state, instance, idle timer, models and cost')
    .option('--json', 'print the status object as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama status', 'what runs, what it costs so far, where credentials come from'],
        ['exollama status --json | jq .state', 'absent, provisioning, booting, ready, …'],
      ) +
        '\nWith credentials, status asks Exoscale (so rejected credentials are reported); with none it\nreports the simulated state.\n',
    )
    .action(
      action(host, 'status', async (ctx) => {
        const config = ctx.config()
        const lifecycle = await ctx.lifecycle(config)
        const status = completeStatus(await lifecycle.status({ signal: ctx.signal }), config)
        if (ctx.out.json) ctx.out.writeJson(status)
        else
          for (const line of renderStatus(status, config, ctx.out.outStyle, ctx.clock.now()))
            ctx.out.line(line)
      }),
    )
}
