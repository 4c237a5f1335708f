import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Dispatcher } from 'undici'
import type { ExoscaleClient } from '../exoscale/index.js'
import { INSTANCE_PORT } from '../recipe/index.js'
import {
  createPinnedAgent,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../shared/index.js'
import type { Store } from '../store/index.js'
import { ActivityTracker } from './activity.js'
import { assertOpen, track, type ProvisionerContext } from './context.js'
import { syncSecurityGroup } from './create-instance.js'
import { EndpointCache, type InstanceUpstream, type ReadyInstance } from './endpoints.js'
import { destroyAfterReached, idleReached, lifetimeReached } from './idle-policy.js'
import type { PullProgress } from './instance-api.js'
import { LeaseGuard } from './lease-guard.js'
import { listModels, pullOnto, type ModelSummary } from './models.js'
import { PolicyTimers } from './policy-timers.js'
import { reconcile, startReconcileLoop, type ReconcileReport } from './reconcile.js'
import { DEFAULT_TUNING, type ProvisionerSettings, type ProvisionerTuning } from './settings.js'
import type {
  ProvisionerProgress,
  ProvisionerState,
  ProvisionerStatus,
  WakeProgress,
} from './status.js'
import { snapshot, status, wakeProgress } from './status-view.js'
import { destroy, stop } from './teardown.js'
import { ensureReady, type EnsureReadyOptions, type WakeReason } from './wake.js'
import { cancelWake } from './wake-state.js'

export type {
  EnsureReadyOptions,
  InstanceUpstream,
  ModelSummary,
  ReadyInstance,
  ReconcileReport,
  WakeReason,
}

export interface LifecycleCallOptions {
  signal?: AbortSignal | undefined
  /** Who asked (`cli`, `api`, `dashboard`), for the events log. */
  actor?: string | undefined
  onProgress?: ((progress: ProvisionerProgress) => void) | undefined
}

export interface StartOptions extends LifecycleCallOptions {
  timeoutMs?: number | undefined
  startedAt?: number | undefined
}

export interface Provisioner {
  /** The gateway reports request begin/end here; idle time counts from the last end. */
  readonly activity: ActivityTracker
  readonly simulated: boolean
  readonly settings: ProvisionerSettings
  /** The current state, without any call (cheap). */
  state(): ProvisionerState
  /** The status object from what this process knows (no cloud call). */
  snapshot(): ProvisionerStatus
  /** The status object after asking the cloud (rejected credentials throw here). */
  status(options?: { signal?: AbortSignal | undefined }): Promise<ProvisionerStatus>
  /** The wake in progress, if any. */
  progress(): WakeProgress | null
  /** Every progress report of every wake; returns the unsubscribe function. */
  onProgress(listener: (progress: ProvisionerProgress) => void): () => void
  /** The ready instance's upstream, waking it if needed. One wake serves every caller. */
  ensureReady(options?: EnsureReadyOptions): Promise<ReadyInstance>
  /** Brings the instance to ready (explicit start: counts as activity). */
  start(options?: StartOptions): Promise<ProvisionerStatus>
  /** Powers the instance off, keeping its disk. */
  stop(options?: LifecycleCallOptions): Promise<ProvisionerStatus>
  /** Deletes every instance labelled with this name. */
  destroy(options?: LifecycleCallOptions): Promise<ProvisionerStatus>
  /** Pulls a model onto the instance (waking it), streaming Ollama's progress. */
  pull(
    model: string,
    onProgress?: (progress: PullProgress) => void,
    options?: LifecycleCallOptions,
  ): Promise<void>
  /** Models on the ready instance, or the last known list while it sleeps. */
  models(options?: { signal?: AbortSignal | undefined }): Promise<ModelSummary[]>
  /** One reconcile round now (the loop runs them at start-up and every interval). */
  reconcile(): Promise<ReconcileReport>
  /** New settings (from the settings panel); security-group rules follow the CIDRs at once. */
  updateSettings(settings: ProvisionerSettings): Promise<void>
  /** Stops loops and timers, ends waits. Never touches the instance. */
  close(): Promise<void>
}

export interface CreateProvisionerOptions {
  settings: ProvisionerSettings
  client: ExoscaleClient
  store: Store
  clock?: Clock | undefined
  logger?: Logger | undefined
  /** This process's identity for the store lease (default host:pid:random). */
  owner?: string | undefined
  /** Shown in the status object (`--simulate`, or no credentials). */
  simulated?: boolean | undefined
  tuning?: Partial<ProvisionerTuning> | undefined
  /** Where the instance's nginx answers (default `https://<ip>:11435`). */
  instanceOrigin?: ((ip: string, instanceId: string) => string) | undefined
  /** The TLS agent pinned to an instance certificate (default createPinnedAgent). */
  createAgent?: ((certPem: string) => Dispatcher) | undefined
  /** Run the reconcile loop: at once and every interval (default true). */
  background?: boolean | undefined
}

/**
 * Creates the provisioner: turns "someone needs Ollama" into a ready, authenticated instance and
 * "nobody does" into zero compute, never leaving an instance billing unaccounted for. See
 * src/provisioner/README.md for the state machine, events and crash-safety rules.
 */
export function createProvisioner(options: CreateProvisionerOptions): Provisioner {
  const ctx = createContext(options)
  const loop = (options.background ?? true) ? startReconcileLoop(ctx) : null
  return {
    activity: ctx.activity,
    simulated: ctx.simulated,
    get settings() {
      return ctx.settings
    },
    state: () => ctx.state,
    snapshot: () => snapshot(ctx),
    status: (o = {}) => status(ctx, o),
    progress: () => wakeProgress(ctx),
    onProgress(listener) {
      ctx.progressListeners.add(listener)
      return () => ctx.progressListeners.delete(listener)
    },
    ensureReady: (o = {}) => ensureReady(ctx, o),
    async start(o = {}) {
      await ensureReady(ctx, {
        signal: o.signal,
        reason: `start by ${o.actor ?? 'cli'}`,
        timeoutMs: o.timeoutMs,
        startedAt: o.startedAt,
        onProgress: o.onProgress,
      })
      // An explicit start is activity: the idle period starts now.
      ctx.activity.touch()
      return snapshot(ctx)
    },
    async stop(o = {}) {
      await stop(ctx, o)
      return snapshot(ctx)
    },
    async destroy(o = {}) {
      await destroy(ctx, o)
      return snapshot(ctx)
    },
    async pull(model, onProgress, o = {}) {
      const ready = await ensureReady(ctx, {
        signal: o.signal,
        reason: `pull ${model} by ${o.actor ?? 'cli'}`,
        onProgress: o.onProgress,
      })
      await pullOnto(ctx, ready.instance.id, model, onProgress, o)
    },
    models: (o = {}) => listModels(ctx, o),
    reconcile: () => reconcile(ctx),
    updateSettings: (settings) => updateSettings(ctx, settings),
    async close() {
      if (ctx.closed) return
      ctx.closed = true
      loop?.cancel()
      ctx.timers.cancelAll()
      cancelWake(ctx.wake, 'shutdown')
      // Let running steps end (they see the abort or finish their store writes), within reason.
      const settle = Promise.allSettled([...ctx.inflight])
      const controller = new AbortController()
      await Promise.race([
        settle,
        ctx.clock.sleep(10_000, controller.signal).catch(() => undefined),
      ])
      controller.abort()
      ctx.endpoints.dropAll()
    },
  }
}

/** The shared context, its effects defaulted, its state read from the store. */
function createContext(options: CreateProvisionerOptions): ProvisionerContext {
  const clock = options.clock ?? systemClock
  const log = (options.logger ?? silentLogger).child({
    component: 'provisioner',
    name: options.settings.name,
  })
  const tuning = { ...DEFAULT_TUNING, ...(options.tuning ?? {}) }
  const { store } = options
  const activity = new ActivityTracker(clock)
  const ctx: ProvisionerContext = {
    client: options.client,
    store,
    clock,
    log,
    tuning,
    lease: new LeaseGuard({
      store,
      lease: `provisioner:${options.settings.name}`,
      owner: options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      clock,
      logger: log,
      ttlMs: tuning.leaseTtlMs,
      pollMs: tuning.leasePollMs,
    }),
    activity,
    endpoints: new EndpointCache({
      instanceOrigin: options.instanceOrigin ?? ((ip: string) => `https://${ip}:${INSTANCE_PORT}`),
      createAgent: options.createAgent ?? ((certPem) => createPinnedAgent({ certPem })),
    }),
    // The handlers run later, when ctx exists; each is background work close() waits for.
    timers: new PolicyTimers({
      clock,
      activity,
      settings: () => ctx.settings,
      handlers: {
        idle: () => void track(ctx, idleReached(ctx)),
        lifetime: (id) => void track(ctx, lifetimeReached(ctx, id)),
        destroyAfter: (id) => void track(ctx, destroyAfterReached(ctx, id)),
      },
    }),
    simulated: options.simulated ?? false,
    progressListeners: new Set(),
    inflight: new Set(),
    settings: options.settings,
    // Until the cloud is asked, the store's view is the best there is.
    state: store.instances.get(options.settings.name)?.state ?? 'absent',
    stateSince: clock.now(),
    lastError: null,
    wake: null,
    wakeSeq: 0,
    live: null,
    closed: false,
  }
  return ctx
}

/** New settings; the idle timer follows at once, and so do the security-group rules. */
async function updateSettings(
  ctx: ProvisionerContext,
  settings: ProvisionerSettings,
): Promise<void> {
  assertOpen(ctx)
  const before = ctx.settings
  ctx.settings = settings
  ctx.timers.settingsChanged()
  const cidrsChanged =
    before.allowedCidrs.length !== settings.allowedCidrs.length ||
    before.allowedCidrs.some((c, i) => settings.allowedCidrs[i] !== c)
  if (!cidrsChanged) return
  await ctx.lease.run(async () => {
    await syncSecurityGroup(ctx, settings)
  })
}
