import type { Command } from 'commander'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { formatBytes, formatTable } from '../format.js'

/** `exollama models [--json]`: the models on the instance (or the last known list). */
export function registerModels(program: Command, host: ActionHost): void {
  program
    .command('models')
    .description('list the models on the instance')
    .option('--json', 'print {"models": [...]} as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama models', 'name, size and date of each model'],
        ['exollama models --json | jq -r ".models[].name"', 'just the names'],
      ),
    )
    .action(
      action(host, 'models', async (ctx) => {
        const config = ctx.config()
        const lifecycle = await ctx.lifecycle(config)
        const models = await lifecycle.models({ signal: ctx.signal })
        if (ctx.out.json) {
          ctx.out.writeJson({ models })
          return
        }
        if (models.length === 0) {
          ctx.out.line(
            'no models yet: run "exollama pull MODEL" or set EXOLLAMA_MODEL to preload one',
          )
          return
        }
        const s = ctx.out.outStyle
        const rows = [
          [s.bold('NAME'), s.bold('SIZE'), s.bold('MODIFIED')],
          ...models.map((m) => [
            m.name,
            m.size === undefined ? '-' : formatBytes(m.size),
            m.modified_at ?? '-',
          ]),
        ]
        for (const line of formatTable(rows)) ctx.out.line(line)
      }),
    )
}
