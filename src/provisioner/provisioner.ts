import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { isExoscaleError, type ExoscaleClient, type Instance } from '../exoscale/index.js'
import { INSTANCE_PORT } from '../recipe/index.js'
import {
  createPinnedAgent,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type Timer,
} from '../shared/index.js'
import type { Fence, Store } from '../store/index.js'
import { adoptInstance, ensureUsageSession } from './acquire-instance.js'
import { ActivityTracker } from './activity.js'
import { createdAtMs, isGoing } from './cloud-instance.js'
import { assertOpen, track as trackIn, type ProvisionerContext } from './context.js'
import { syncSecurityGroup } from './create-instance.js'
import { EndpointCache, type InstanceUpstream, type ReadyInstance } from './endpoints.js'
import { recordEvent, transition } from './events.js'
import { errorSummary } from './explain.js'
import { destroyAfterReached, idleReached, lifetimeReached } from './idle-policy.js'
import type { PullProgress } from './instance-api.js'
import { managedLabels, ownedBy } from './labels.js'
import { LeaseGuard } from './lease-guard.js'
import { listModels, pullOnto, type ModelSummary } from './models.js'
import { PolicyTimers } from './policy-timers.js'
import { planReconcile, type ReconcileAction } from './reconcile-plan.js'
import { DEFAULT_TUNING, type ProvisionerSettings, type ProvisionerTuning } from './settings.js'
import type {
  ProvisionerProgress,
  ProvisionerState,
  ProvisionerStatus,
  WakeProgress,
} from './status.js'
import { snapshot, status, wakeProgress } from './status-view.js'
import {
  deleteInstance,
  destroy,
  destroyLocked,
  forgetRecord,
  markStopped,
  stop,
  stopLocked,
} from './teardown.js'
import { ensureReady, type EnsureReadyOptions, type WakeReason } from './wake.js'
import { cancelWake } from './wake-state.js'

export type { EnsureReadyOptions, InstanceUpstream, ModelSummary, ReadyInstance, WakeReason }

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

/** What one reconcile round saw and did. */
export interface ReconcileReport {
  /** `busy`: another holder had the lease; `list-failed`: nothing was done. */
  skipped?: 'busy' | 'list-failed' | 'closed'
  error?: { code: string; message: string }
  listed: number
  keeper: string | null
  actions: { kind: ReconcileAction['kind']; instanceId?: string; why?: string; ok: boolean }[]
  /** Labelled instances still within their grace period. */
  waiting: string[]
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
  return new ProvisionerImpl(options)
}

class ProvisionerImpl implements Provisioner {
  readonly #ctx: ProvisionerContext
  #reconcileTimer: Timer | null = null

  constructor(options: CreateProvisionerOptions) {
    const clock = options.clock ?? systemClock
    const log = (options.logger ?? silentLogger).child({
      component: 'provisioner',
      name: options.settings.name,
    })
    const tuning = { ...DEFAULT_TUNING, ...(options.tuning ?? {}) }
    const store = options.store
    const activity = new ActivityTracker(clock)
    const track = <T>(promise: Promise<T>) => trackIn(this.#ctx, promise)
    this.#ctx = {
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
        instanceOrigin:
          options.instanceOrigin ?? ((ip: string) => `https://${ip}:${INSTANCE_PORT}`),
        createAgent: options.createAgent ?? ((certPem) => createPinnedAgent({ certPem })),
      }),
      timers: new PolicyTimers({
        clock,
        activity,
        settings: () => this.#ctx.settings,
        handlers: {
          idle: () => void track(idleReached(this.#ctx)),
          lifetime: (id) => void track(lifetimeReached(this.#ctx, id)),
          destroyAfter: (id) => void track(destroyAfterReached(this.#ctx, id)),
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
    if (options.background ?? true) this.#scheduleReconcile(0)
  }

  get activity(): ActivityTracker {
    return this.#ctx.activity
  }

  get simulated(): boolean {
    return this.#ctx.simulated
  }

  get settings(): ProvisionerSettings {
    return this.#ctx.settings
  }

  // ---- reading --------------------------------------------------------------------------------

  state(): ProvisionerState {
    return this.#ctx.state
  }

  progress(): WakeProgress | null {
    return wakeProgress(this.#ctx)
  }

  onProgress(listener: (progress: ProvisionerProgress) => void): () => void {
    this.#ctx.progressListeners.add(listener)
    return () => this.#ctx.progressListeners.delete(listener)
  }

  snapshot(): ProvisionerStatus {
    return snapshot(this.#ctx)
  }

  status(options: { signal?: AbortSignal | undefined } = {}): Promise<ProvisionerStatus> {
    return status(this.#ctx, options)
  }

  models(options: { signal?: AbortSignal | undefined } = {}): Promise<ModelSummary[]> {
    return listModels(this.#ctx, options)
  }

  // ---- events and state -----------------------------------------------------------------------

  // ---- wake -----------------------------------------------------------------------------------

  // ---- ready, idle, lifetime ------------------------------------------------------------------

  // ---- stop and destroy -----------------------------------------------------------------------

  // ---- public lifecycle -----------------------------------------------------------------------

  ensureReady(options: EnsureReadyOptions = {}): Promise<ReadyInstance> {
    return ensureReady(this.#ctx, options)
  }

  async start(options: StartOptions = {}): Promise<ProvisionerStatus> {
    await ensureReady(this.#ctx, {
      signal: options.signal,
      reason: `start by ${options.actor ?? 'cli'}`,
      timeoutMs: options.timeoutMs,
      startedAt: options.startedAt,
      onProgress: options.onProgress,
    })
    // An explicit start is activity: the idle period starts now.
    this.activity.touch()
    return this.snapshot()
  }

  async stop(options: LifecycleCallOptions = {}): Promise<ProvisionerStatus> {
    await stop(this.#ctx, options)
    return this.snapshot()
  }

  async destroy(options: LifecycleCallOptions = {}): Promise<ProvisionerStatus> {
    await destroy(this.#ctx, options)
    return this.snapshot()
  }

  async pull(
    model: string,
    onProgress?: (progress: PullProgress) => void,
    options: LifecycleCallOptions = {},
  ): Promise<void> {
    const ready = await ensureReady(this.#ctx, {
      signal: options.signal,
      reason: `pull ${model} by ${options.actor ?? 'cli'}`,
      onProgress: options.onProgress,
    })
    await pullOnto(this.#ctx, ready.instance.id, model, onProgress, options)
  }

  async updateSettings(settings: ProvisionerSettings): Promise<void> {
    assertOpen(this.#ctx)
    const before = this.#ctx.settings
    this.#ctx.settings = settings
    this.#ctx.timers.settingsChanged()
    const cidrsChanged =
      before.allowedCidrs.length !== settings.allowedCidrs.length ||
      before.allowedCidrs.some((c, i) => settings.allowedCidrs[i] !== c)
    if (cidrsChanged) {
      await this.#ctx.lease.run(async () => {
        await syncSecurityGroup(this.#ctx, settings)
      })
    }
  }

  // ---- reconcile ------------------------------------------------------------------------------

  async reconcile(): Promise<ReconcileReport> {
    if (this.#ctx.closed)
      return { skipped: 'closed', listed: 0, keeper: null, actions: [], waiting: [] }
    const report = await this.#ctx.lease.tryRun((fence) => this.#reconcileLocked(fence))
    if (!report) return { skipped: 'busy', listed: 0, keeper: null, actions: [], waiting: [] }
    if (report.resume) {
      // Outside the lease: the wake takes it itself.
      ensureReady(this.#ctx, { reason: 'resume: instance found running' }).catch((error: unknown) =>
        this.#ctx.log.warn({ err: error }, 'resuming the instance failed'),
      )
    }
    return report.report
  }

  async #reconcileLocked(fence: Fence): Promise<{ report: ReconcileReport; resume: boolean }> {
    const name = this.#ctx.settings.name
    let listed: Instance[]
    try {
      listed = await this.#ctx.client.listInstances({ labels: managedLabels(name) })
    } catch (error) {
      const summary = errorSummary(error)
      this.#ctx.log.warn({ err: error }, 'reconcile: list failed; doing nothing this round')
      recordEvent(this.#ctx, {
        type: 'reconcile',
        errorCode: summary.code,
        message: `listing instances failed; nothing changed this round (${summary.message})`,
      })
      return {
        report: {
          skipped: 'list-failed',
          error: summary,
          listed: 0,
          keeper: null,
          actions: [],
          waiting: [],
        },
        resume: false,
      }
    }
    try {
      this.#ctx.store.usage.accrue()
    } catch (error) {
      this.#ctx.log.warn({ err: error }, 'usage accrual failed')
    }
    const now = this.#ctx.clock.now()
    const plan = planReconcile({
      name,
      now,
      instances: listed,
      record: this.#ctx.store.instances.get(name),
      intents: this.#ctx.store.intents.list({ name, limit: 200 }),
      idleAction: this.#ctx.settings.idleAction,
      destroyAfterMs: this.#ctx.settings.destroyAfterS * 1000,
      maxLifetimeMs: this.#ctx.settings.maxLifetimeS * 1000,
      orphanGraceMs: this.#ctx.tuning.orphanGraceMs,
      intentGraceMs: this.#ctx.tuning.intentGraceMs,
    })
    const done: ReconcileReport['actions'] = []
    for (const action of plan.actions) {
      const entry: ReconcileReport['actions'][number] = {
        kind: action.kind,
        ...('instance' in action ? { instanceId: action.instance.id } : {}),
        ...(action.kind === 'mark-gone' ? { instanceId: action.record.instanceId } : {}),
        ...(action.kind === 'destroy' ? { why: action.why } : {}),
        ok: true,
      }
      try {
        await this.#applyAction(action, fence)
      } catch (error) {
        entry.ok = false
        this.#ctx.log.warn({ err: error, action: action.kind }, 'reconcile action failed')
        recordEvent(this.#ctx, {
          type: 'reconcile',
          errorCode: errorSummary(error).code,
          instanceId: entry.instanceId ?? null,
          message: `${action.kind} failed: ${errorSummary(error).message}`,
        })
      }
      done.push(entry)
    }

    // Timers for what is kept, and a resume for a running instance nobody is waking.
    const record = this.#ctx.store.instances.get(name)
    const keeper = plan.keeper
    let resume = false
    if (record && keeper && record.instanceId === keeper.id) {
      const cloudNow = done.some((a) => a.instanceId === keeper.id && a.kind === 'destroy' && a.ok)
      if (!cloudNow) {
        this.#ctx.timers.armLifetime(keeper.id, createdAtMs(keeper, record.createdAt))
        if (record.state === 'stopped') {
          this.#ctx.timers.armDestroyAfter(record.instanceId, record.updatedAt)
          if (this.#ctx.state !== 'stopped' && !this.#ctx.wake) {
            transition(this.#ctx, 'stopped', { type: 'reconcile', message: 'instance is stopped' })
          }
        } else if (
          (keeper.state === 'running' || keeper.state === 'starting') &&
          !this.#ctx.wake &&
          this.#ctx.live?.instance.id !== keeper.id
        ) {
          resume = true
        }
      }
    } else if (
      !record &&
      !this.#ctx.wake &&
      this.#ctx.state !== 'absent' &&
      this.#ctx.state !== 'error'
    ) {
      transition(this.#ctx, 'absent', { type: 'reconcile', message: 'no instance' })
    }
    if (done.length > 0) {
      recordEvent(this.#ctx, {
        type: 'reconcile',
        message: `reconcile: ${done.map((a) => `${a.kind}${a.why ? `(${a.why})` : ''} ${a.instanceId ?? ''}${a.ok ? '' : ' FAILED'}`.trim()).join(', ')}`,
        data: { actions: done, waiting: plan.waiting },
      })
    }
    return {
      report: {
        listed: ownedBy(listed, name).length,
        keeper: keeper?.id ?? null,
        actions: done,
        waiting: plan.waiting,
      },
      resume,
    }
  }

  async #applyAction(action: ReconcileAction, fence: Fence): Promise<void> {
    const name = this.#ctx.settings.name
    switch (action.kind) {
      case 'adopt': {
        const record = adoptInstance(this.#ctx, action.intent, action.instance, fence, {
          actor: 'reconcile',
        })
        ensureUsageSession(this.#ctx, record, action.instance)
        if (!this.#ctx.wake && this.#ctx.state !== record.state) {
          transition(this.#ctx, record.state, {
            type: 'adopt',
            actor: 'reconcile',
            instanceId: record.instanceId,
            message: `instance ${record.instanceId} adopted as ${record.state}`,
          })
        }
        return
      }
      case 'destroy': {
        const record = this.#ctx.store.instances.get(name)
        const why = `reconcile: ${action.why}`
        if (record?.instanceId === action.instance.id) {
          cancelWake(this.#ctx.wake, why)
          await destroyLocked(this.#ctx, {
            ids: [action.instance.id],
            actor: 'reconcile',
            reason: why,
          })
        } else {
          await deleteInstance(this.#ctx, action.instance.id, why)
          recordEvent(this.#ctx, {
            type: 'reconcile',
            instanceId: action.instance.id,
            actor: 'reconcile',
            reason: action.why,
            message: `deleted ${action.why} instance ${action.instance.id}`,
          })
        }
        return
      }
      case 'mark-gone': {
        // The list did not show it; only a 404 for the id itself proves it is gone.
        try {
          const again = await this.#ctx.client.getInstance(action.record.instanceId)
          if (!isGoing(again)) return
        } catch (error) {
          if (!isExoscaleError(error, 'exoscale_not_found')) throw error
        }
        forgetRecord(this.#ctx, action.record, 'it no longer exists in Exoscale')
        if (!this.#ctx.wake && this.#ctx.state !== 'absent') {
          transition(this.#ctx, 'absent', {
            type: 'reconcile',
            actor: 'reconcile',
            instanceId: action.record.instanceId,
            message: `instance ${action.record.instanceId} is gone`,
          })
        }
        this.#ctx.timers.disarmIdle()
        return
      }
      case 'mark-stopped': {
        const record = this.#ctx.store.instances.get(name)
        if (!record) return
        markStopped(this.#ctx, record.instanceId)
        this.#ctx.timers.disarmIdle()
        this.#ctx.live = null
        if (!this.#ctx.wake) {
          transition(this.#ctx, 'stopped', {
            type: 'stopped',
            actor: 'reconcile',
            instanceId: record.instanceId,
            message: `instance ${record.instanceId} powered off by itself`,
          })
        }
        this.#ctx.timers.armDestroyAfter(record.instanceId, this.#ctx.clock.now())
        return
      }
      case 'stop': {
        const record = this.#ctx.store.instances.get(name)
        if (record)
          await stopLocked(this.#ctx, record, { actor: 'reconcile', reason: 'interrupted stop' })
        return
      }
      case 'abandon-intent':
        this.#ctx.store.intents.markAbandoned(action.intent.id, 'no instance carries its label')
        return
    }
  }

  #scheduleReconcile(delayMs: number): void {
    if (this.#ctx.closed) return
    this.#reconcileTimer = this.#ctx.clock.setTimer(delayMs, () => {
      this.#reconcileTimer = null
      const tick = this.reconcile()
        .catch((error: unknown) => this.#ctx.log.warn({ err: error }, 'reconcile failed'))
        .finally(() => this.#scheduleReconcile(this.#ctx.tuning.reconcileIntervalMs))
      trackIn(this.#ctx, tick)
    })
  }

  // ---- plumbing -------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.#ctx.closed) return
    this.#ctx.closed = true
    this.#reconcileTimer?.cancel()
    this.#ctx.timers.cancelAll()
    cancelWake(this.#ctx.wake, 'shutdown')
    // Let running steps end (they see the abort or finish their store writes), within reason.
    const settle = Promise.allSettled([...this.#ctx.inflight])
    const controller = new AbortController()
    await Promise.race([
      settle,
      this.#ctx.clock.sleep(10_000, controller.signal).catch(() => undefined),
    ])
    controller.abort()
    this.#ctx.endpoints.dropAll()
  }
}
