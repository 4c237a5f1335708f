import type { Lifecycle, LifecycleOptions, StatusObject } from '../../app/index.js'
import type { Config } from '../../config/index.js'
import type { CommandContext } from '../context.js'
import { completeStatus, renderStatus } from '../status-view.js'

/**
 * The shared body of start, stop and destroy: open the lifecycle, run the step with a progress
 * display, then print the resulting status (the status object in --json mode).
 */
export async function runTransition(
  ctx: CommandContext,
  config: Config,
  step: (lifecycle: Lifecycle, options: LifecycleOptions) => Promise<StatusObject>,
): Promise<void> {
  const lifecycle = await ctx.lifecycle(config)
  const progress = ctx.progress()
  const raw = await step(lifecycle, {
    signal: ctx.signal,
    ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
  })
  progress?.finish()
  const status = completeStatus(raw, config)
  if (ctx.out.json) ctx.out.writeJson(status)
  else {
    for (const line of renderStatus(status, config, ctx.out.outStyle, ctx.clock.now())) {
      ctx.out.line(line)
    }
  }
}
