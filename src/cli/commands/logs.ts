import type { Command } from 'commander'
import type { StatusObject } from '../../app/index.js'
import type { LifecycleEvent, Store } from '../../store/index.js'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import type { CommandContext } from '../context.js'
import { NotAvailableError } from '../errors.js'
import { eventJson, renderEvent } from '../event-view.js'
import { parseIntegerFlag } from '../flags.js'
import { formatBar } from '../format.js'

/** How often `logs -f` looks for new events (they may come from another process). */
export const FOLLOW_POLL_MS = 1000
const LIVE_STATES = new Set(['provisioning', 'booting', 'ready', 'error'])

type Boot = NonNullable<StatusObject['boot']>

/**
 * The VM's boot status, when the store knows of a live instance. Only then is the lifecycle
 * asked (which may ask Exoscale); failures are a warning, never the end of `logs`.
 */
async function bootStatus(ctx: CommandContext, store: Store): Promise<Boot | null> {
  const live = store.instances.list().some((record) => LIVE_STATES.has(record.state))
  if (!live) return null
  try {
    const config = ctx.config()
    const lifecycle = await ctx.lifecycle(config)
    const status = await lifecycle.status({ signal: ctx.signal })
    return status.boot ?? null
  } catch (error) {
    if (!(error instanceof NotAvailableError)) {
      ctx.out.warn(
        `could not read the instance's boot status: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
    return null
  }
}

function renderBoot(boot: Boot): string {
  const err = boot.error ? `: ${boot.error}` : ''
  return `instance boot: ${boot.state}, ${boot.phase} ${formatBar(boot.percent, 16)} ${boot.percent}%${boot.gpu ? ' (GPU)' : ''}${err}`
}

/** `exollama logs [-f] [-n N] [--json]`: lifecycle events from the store, and the VM's boot status. */
export function registerLogs(program: Command, host: ActionHost): void {
  program
    .command('logs')
    .description('show lifecycle events and the boot status')
    .option('-f, --follow', 'keep printing new events until interrupted (Ctrl-C)')
    .option('-n, --lines <count>', 'how many recent events to show first', '50')
    .option(
      '--json',
      'print {"events", "cursor", "boot"} as one JSON object; with -f, one JSON event per line',
    )
    .addHelpText(
      'after',
      examples(
        ['exollama logs', 'the last 50 events and, for a live instance, its boot phase'],
        ['exollama logs -f', 'follow new events as the gateway writes them'],
        ['exollama logs -n 200 --json', 'the last 200 events as JSON'],
        ['exollama logs -f --json | jq -c .', 'follow as JSON lines (one event per line)'],
      ),
    )
    .action(
      action<{ follow?: boolean; lines: string }>(host, 'logs', async (ctx, _args, options) => {
        const limit = parseIntegerFlag('--lines', options.lines, {
          min: 0,
          max: 1000,
          what: 'a number of events',
        })
        const store = ctx.store()
        const recent =
          limit === 0 ? [] : [...store.events.list({ order: 'desc', limit }).events].reverse()
        // Follow from the newest event shown (or the newest there is), never from a separate read.
        let cursor = recent[recent.length - 1]?.id ?? store.events.latestId()
        const boot = await bootStatus(ctx, store)
        const s = ctx.out.outStyle
        const print = (event: LifecycleEvent) =>
          options.follow && ctx.out.json
            ? ctx.out.writeOut(`${JSON.stringify(eventJson(event))}\n`)
            : ctx.out.line(renderEvent(event, s))

        if (!options.follow) {
          if (ctx.out.json) {
            ctx.out.writeJson({ events: recent.map(eventJson), cursor, boot })
            return
          }
          if (recent.length === 0) {
            ctx.out.line(
              'no events yet: they appear when a request, "exollama start" or the idle timer changes the instance',
            )
          }
          recent.forEach(print)
          if (boot) ctx.out.line(renderBoot(boot))
          return
        }

        recent.forEach(print)
        if (boot && !ctx.out.json) ctx.out.line(renderBoot(boot))
        if (!ctx.out.json && ctx.io.stdout.isTTY)
          ctx.out.note(s.dim('following new events; Ctrl-C to stop'))
        for (;;) {
          try {
            await ctx.clock.sleep(FOLLOW_POLL_MS, ctx.signal)
          } catch (error) {
            if (ctx.signal.aborted) return 0
            throw error
          }
          // Drain: more than one page may have arrived since the last look.
          for (;;) {
            const page = store.events.list({ afterId: cursor, limit: 1000 })
            page.events.forEach(print)
            cursor = page.cursor ?? cursor
            if (page.events.length < 1000) break
          }
        }
      }),
    )
}
