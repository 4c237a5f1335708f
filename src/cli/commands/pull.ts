import type { Command } from 'commander'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { CliUsageError } from '../errors.js'

/** `exollama pull MODEL [--json]`: pulls a model onto the instance with a download display. */
export function registerPull(program: Command, host: ActionHost): void {
  program
    .command('pull')
    .description('pull a model onto the instance')
    .argument('<MODEL>', 'model name as Ollama knows it, e.g. qwen2.5:0.5b')
    .option('--json', 'print {"model", "status"} as one JSON object when done')
    .addHelpText(
      'after',
      examples(
        ['exollama pull qwen2.5:0.5b', 'download the model onto the running instance'],
        [
          'exollama config set EXOLLAMA_MODEL qwen2.5:0.5b',
          'preload it on every new instance instead',
        ],
      ),
    )
    .action(
      action(host, 'pull', async (ctx, [model = '']) => {
        const name = model.trim()
        if (!/^[^\s\p{Cc}]{1,200}$/u.test(name)) {
          throw new CliUsageError(
            `MODEL: ${JSON.stringify(model.slice(0, 40))} is not a model name: expected a name such as qwen2.5:0.5b`,
            { code: 'invalid_argument' },
          )
        }
        const config = ctx.config()
        const lifecycle = await ctx.lifecycle(config)
        const progress = ctx.progress()
        await lifecycle.pull(name, {
          signal: ctx.signal,
          ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
        })
        progress?.finish()
        if (ctx.out.json) ctx.out.writeJson({ model: name, status: 'success' })
        else ctx.out.line(`${ctx.out.outStyle.green('✓')} pulled ${name}`)
      }),
    )
}
