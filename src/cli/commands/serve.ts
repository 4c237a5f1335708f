import type { Command } from 'commander'
import { hasCredentials, type Config } from '../../config/index.js'
import { createLogger, UserError } from '../../shared/index.js'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import type { CommandContext } from '../context.js'
import { describeCredentials } from '../credentials.js'
import type { ServeMode } from '../deps.js'
import { CliUsageError } from '../errors.js'
import { parseUrlFlag } from '../flags.js'
import { formatSeconds } from '../format.js'

interface ServeFlags {
  listen?: string
  simulate?: boolean
  backend?: string
}

/** Backend, simulator or cloud: flags first, then whether credentials are configured at all. */
function chooseMode(config: Config, flags: ServeFlags): ServeMode {
  if (flags.backend !== undefined && flags.simulate) {
    throw new CliUsageError('--backend and --simulate exclude each other: pick one', {
      code: 'conflicting_flags',
    })
  }
  if (flags.backend !== undefined) {
    return {
      kind: 'backend',
      url: parseUrlFlag(
        '--backend',
        flags.backend,
        'the http(s) URL of an Ollama server such as http://127.0.0.1:11435 (no user:password)',
      ),
    }
  }
  if (flags.simulate) return { kind: 'simulate', reason: 'flag' }
  if (hasCredentials(config)) return { kind: 'cloud' }
  const credentials = describeCredentials(config)
  if (credentials.api_key.set || credentials.api_secret.set) {
    // Half-configured credentials are a mistake to report, never a reason to simulate.
    throw new UserError('incomplete_credentials', `Exoscale credentials are ${credentials.summary}`)
  }
  return { kind: 'simulate', reason: 'no-credentials' }
}

function describeMode(ctx: CommandContext, config: Config, mode: ServeMode): string {
  const s = ctx.out.outStyle
  const v = config.values
  switch (mode.kind) {
    case 'backend':
      return `backend ${mode.url.href} (static: nothing is provisioned)`
    case 'simulate':
      return s.yellow(
        `SIMULATED Exoscale (${mode.reason === 'flag' ? '--simulate' : 'no credentials configured'}): nothing is created on Exoscale`,
      )
    case 'cloud':
      return `Exoscale ${v.EXOSCALE_ZONE}, ${v.EXOSCALE_INSTANCE_TYPE}, credentials ${describeCredentials(config).summary}`
  }
}

/** `exollama serve [--listen HOST:PORT] [--simulate] [--backend URL]`: the gateway. */
export function registerServe(program: Command, host: ActionHost): void {
  program
    .command('serve')
    .description('run the gateway (Ollama + OpenAI API, dashboard at /ui/)')
    .option(
      '--listen <HOST:PORT>',
      'address to listen on (EXOLLAMA_LISTEN, default 127.0.0.1:11434)',
    )
    .option(
      '--simulate',
      'use the built-in Exoscale simulator (also the default when no credentials are configured)',
    )
    .option('--backend <URL>', 'forward to an existing Ollama server and provision nothing')
    .addHelpText(
      'after',
      examples(
        ['exollama serve', 'a drop-in for a local Ollama on 127.0.0.1:11434'],
        ['exollama serve --simulate', 'try everything without an Exoscale account'],
        ['exollama serve --listen 127.0.0.1:8080', 'another port'],
        [
          'exollama serve --backend http://10.0.0.5:11434',
          'put the gateway in front of an existing Ollama',
        ],
        ['OLLAMA_HOST=http://127.0.0.1:11434 ollama list', 'any Ollama client then talks to it'],
      ) +
        '\nStops cleanly on Ctrl-C or SIGTERM (in-flight streams get EXOLLAMA_SHUTDOWN_GRACE seconds).\n',
    )
    .action(
      action<ServeFlags>(host, 'serve', async (ctx, _args, flags) => {
        const config = ctx.config(
          flags.listen === undefined ? {} : { EXOLLAMA_LISTEN: flags.listen },
        )
        const mode = chooseMode(config, flags)
        if (mode.kind === 'simulate' && mode.reason === 'no-credentials') {
          ctx.out.warn(
            'SIMULATED MODE: no Exoscale credentials are configured, so nothing is created on Exoscale; set EXOSCALE_API_KEY and EXOSCALE_API_SECRET (or "exollama config set EXOSCALE_API_KEY …") to use the cloud',
          )
        }
        const level = ctx.verbose ? 'debug' : config.values.EXOLLAMA_LOG_LEVEL
        const logger = createLogger({
          level,
          name: 'exollama',
          destination: { write: (line: string) => ctx.out.writeErr(line) },
        })
        const s = ctx.out.outStyle
        await ctx.deps.serve(config, {
          mode,
          signal: ctx.signal,
          logger,
          clock: ctx.clock,
          onReady: ({ url }) => {
            ctx.out.line(
              `${s.green('✓')} ${s.bold('exollama gateway')} on ${url}  (dashboard ${url}/ui/)`,
            )
            ctx.out.line(`  serving  ${describeMode(ctx, config, mode)}`)
            if (mode.kind !== 'backend') {
              ctx.out.line(
                `  idle     ${config.values.EXOLLAMA_IDLE_ACTION} after ${formatSeconds(config.values.EXOSCALE_IDLE_TIMEOUT)} without requests`,
              )
            }
            ctx.out.line(`  stop     Ctrl-C`)
          },
        })
        ctx.out.note('exollama gateway stopped')
      }),
    )
}
