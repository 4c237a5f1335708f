import { closedError, type ProvisionerContext } from './context.js'
import { recordEvent } from './events.js'
import { fetchTags, pullModel, type InstanceEndpoint, type PullProgress } from './instance-api.js'

/** One model on the instance, as `/api/tags` describes it. */
export interface ModelSummary {
  name: string
  size?: number
  modified_at?: string
  details?: Record<string, unknown>
}

/** Where the last `/api/tags` answer is kept: the list shown while the instance sleeps. */
const TAGS_KEY = '/api/tags'

/** Models on the ready instance, or the last known list while it sleeps. */
export async function listModels(
  ctx: ProvisionerContext,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<ModelSummary[]> {
  const record = ctx.store.instances.get(ctx.settings.name)
  if (ctx.state === 'ready' && record) {
    const models = await refreshModels(ctx, ctx.endpoints.get(record), {
      signal: options.signal,
      timeoutMs: ctx.tuning.probeTimeoutMs,
    })
    return summariesOf(models)
  }
  return summariesOf(cachedModels(ctx))
}

/**
 * Pulls a model onto the ready instance (`instanceId`), streaming Ollama's progress; the pull
 * counts as activity while it runs. The model list is refreshed after.
 */
export async function pullOnto(
  ctx: ProvisionerContext,
  instanceId: string,
  model: string,
  onProgress: ((progress: PullProgress) => void) | undefined,
  request: { signal?: AbortSignal | undefined; actor?: string | undefined },
): Promise<void> {
  const record = ctx.store.instances.get(ctx.settings.name)
  if (!record) throw closedError()
  const end = ctx.activity.begin()
  const started = ctx.clock.now()
  try {
    await pullModel(ctx.endpoints.get(record), model, {
      clock: ctx.clock,
      signal: request.signal,
      ...(onProgress ? { onProgress } : {}),
    })
  } finally {
    end()
  }
  recordEvent(ctx, {
    type: 'pull',
    phase: 'model-pull',
    instanceId,
    actor: request.actor ?? 'cli',
    durationMs: ctx.clock.now() - started,
    message: `model ${model} pulled`,
    data: { model },
  })
  try {
    await refreshModels(ctx, ctx.endpoints.get(record), {
      timeoutMs: ctx.tuning.probeTimeoutMs,
    })
  } catch (error) {
    ctx.log.debug({ err: error }, 'tags after pull failed')
  }
}

/** Reads the instance's `/api/tags` and keeps it as the list shown while it sleeps. */
export async function refreshModels(
  ctx: ProvisionerContext,
  endpoint: InstanceEndpoint,
  options: { signal?: AbortSignal | undefined; timeoutMs: number },
): Promise<Record<string, unknown>[]> {
  const tags = await fetchTags(endpoint, { clock: ctx.clock, ...options })
  ctx.store.metadata.put(TAGS_KEY, tags)
  return tags.models
}

/** The names of the last known models (the status object's `models`). */
export function cachedModelNames(ctx: ProvisionerContext): string[] {
  return namesOf(cachedModels(ctx))
}

export function namesOf(models: readonly Record<string, unknown>[]): string[] {
  return summariesOf(models)
    .map((m) => m.name)
    .filter((n) => n !== '')
}

function cachedModels(ctx: ProvisionerContext): Record<string, unknown>[] {
  const cached = ctx.store.metadata.get(TAGS_KEY)?.body as { models?: unknown } | undefined
  return Array.isArray(cached?.models) ? (cached.models as Record<string, unknown>[]) : []
}

function summariesOf(models: readonly Record<string, unknown>[]): ModelSummary[] {
  return models
    .filter((m) => typeof m.name === 'string' || typeof m.model === 'string')
    .map((m) => ({
      name: (typeof m.name === 'string' ? m.name : m.model) as string,
      ...(typeof m.size === 'number' ? { size: m.size } : {}),
      ...(typeof m.modified_at === 'string' ? { modified_at: m.modified_at } : {}),
      ...(m.details && typeof m.details === 'object'
        ? { details: m.details as Record<string, unknown> }
        : {}),
    }))
}
