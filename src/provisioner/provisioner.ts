import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Dispatcher } from 'undici'
import {
  isExoscaleError,
  type CreateInstanceRequest,
  type ExoscaleClient,
  type Instance,
} from '../exoscale/index.js'
import {
  buildUserData,
  generateInstanceCredentials,
  INSTANCE_PORT,
  type BootStatus,
} from '../recipe/index.js'
import {
  createPinnedAgent,
  ExollamaError,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type Timer,
} from '../shared/index.js'
import type { Fence, InstanceRecord, Intent, Store } from '../store/index.js'
import { ActivityTracker } from './activity.js'
import { resolveCreatePlan } from './create-plan.js'
import { ProvisionerError, isProvisionerError } from './errors.js'
import {
  errorSummary,
  explainCreateError,
  explainRecipeError,
  isAmbiguousCreateFailure,
  isTransientCloudFailure,
} from './explain.js'
import { pullModel, type InstanceEndpoint, type PullProgress } from './instance-api.js'
import { instanceLabels, intentFilter, intentOf, managedLabels, ownedBy } from './labels.js'
import { LeaseGuard } from './lease-guard.js'
import {
  BootFailure,
  assertOllamaVersion,
  waitForBootReady,
  waitForOllamaVersion,
} from './readiness.js'
import {
  adoptableIntent,
  pickKeeper,
  planReconcile,
  type ReconcileAction,
} from './reconcile-plan.js'
import { recordFromIntent } from './records.js'
import { createdAtMs, hasId, isGoing, listOwned, type ListedInstance } from './cloud-instance.js'
import { waitFor } from './wait-for.js'
import { listModels, refreshModels, type ModelSummary } from './models.js'
import { snapshot, status, wakeProgress } from './status-view.js'
import { destroyAfterReached, idleReached, lifetimeReached, onReady } from './idle-policy.js'
import {
  deleteInstance,
  destroy,
  destroyLocked,
  forgetRecord,
  markStopped,
  stop,
  stopLocked,
} from './teardown.js'
import { assertOpen, closedError, track as trackIn, type ProvisionerContext } from './context.js'
import { EndpointCache, type InstanceUpstream, type ReadyInstance } from './endpoints.js'
import { emitProgress, enterPhase, recordEvent, transition, transitionToError } from './events.js'
import { PolicyTimers } from './policy-timers.js'
import {
  armDeadline,
  cancelWake,
  tightenDeadline,
  WakeCancelled,
  WakeDeadline,
  type Wake,
} from './wake-state.js'
import { ensureSecurityGroup, type SecurityGroupSync } from './security-group.js'
import { DEFAULT_TUNING, type ProvisionerSettings, type ProvisionerTuning } from './settings.js'
import type {
  ProvisionerProgress,
  ProvisionerState,
  ProvisionerStatus,
  WakeProgress,
} from './status.js'

export type { InstanceUpstream, ModelSummary, ReadyInstance }

/** Who or what wants the instance: a string, or the gateway's request description. */
export type WakeReason = string | { route: string; keyId?: string; clientIp?: string }

export interface EnsureReadyOptions {
  /** This caller stops waiting when it aborts; the wake goes on for the others. */
  signal?: AbortSignal | undefined
  reason?: WakeReason | undefined
  /**
   * This caller's limit (default EXOLLAMA_WAKE_TIMEOUT), counted from `startedAt`. A wake this
   * call starts ends there (destroying what it created); a wake it joins is only left.
   */
  timeoutMs?: number | undefined
  /** When the caller's clock started (default now): `start --timeout` counts from the command. */
  startedAt?: number | undefined
  onProgress?: ((progress: ProvisionerProgress) => void) | undefined
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
 * Telling this boot's status from the previous boot's by time: `updated_at` (whole seconds, the
 * VM's clock) must not be before the second of the start request. No allowance for the VM's
 * clock lagging ours: a lagging clock only means the `running` steps (which a later boot always
 * writes first) decide instead; an allowance would let a quick stop/start take the old `ready`.
 */
const BOOT_STATUS_SKEW_MS = 0

/** A record whose wake began this long after the instance's creation was a start, not a create. */
const RESTART_AFTER_MS = 60_000

function describeReason(reason: WakeReason | undefined, fallback: string) {
  if (reason === undefined) return { reason: fallback, actor: null }
  if (typeof reason === 'string') return { reason, actor: null }
  const actor = reason.keyId
    ? `key ${reason.keyId}`
    : reason.clientIp
      ? `client ${reason.clientIp}`
      : 'anonymous client'
  return { reason: `request ${reason.route}`, actor }
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

  ensureReady(options: EnsureReadyOptions = {}): Promise<ReadyInstance> {
    if (this.#ctx.closed) return Promise.reject(closedError())
    if (this.#ctx.state === 'ready' && !this.#ctx.wake && this.#ctx.live) {
      return Promise.resolve(this.#ctx.live)
    }
    const now = this.#ctx.clock.now()
    const callerDeadline =
      options.timeoutMs === undefined ? undefined : (options.startedAt ?? now) + options.timeoutMs
    let wake = this.#ctx.wake
    const joined = wake !== null
    if (!wake) wake = this.#startWake(options)
    const w = wake
    const listener = options.onProgress
    if (listener) w.listeners.add(listener)
    // A caller that joins a wake with a shorter limit of its own leaves at that limit.
    const ownLimit = joined && callerDeadline !== undefined && callerDeadline < w.deadline
    return waitFor(w.promise, {
      signal: options.signal,
      clock: this.#ctx.clock,
      deadline: ownLimit ? callerDeadline : undefined,
      onDeadline: () =>
        new ProvisionerError(
          'wake_timeout',
          `the instance was not ready within ${Math.round(((callerDeadline ?? now) - (options.startedAt ?? now)) / 1000)} s (it is still ${this.#ctx.state}; the wake goes on): wait longer (--timeout) or check exollama status`,
          { kind: 'timeout' },
        ),
    }).finally(() => {
      if (listener) w.listeners.delete(listener)
    })
  }

  #startWake(options: EnsureReadyOptions): Wake {
    const now = this.#ctx.clock.now()
    const startedAt = options.startedAt ?? now
    const timeoutMs = options.timeoutMs ?? this.#ctx.settings.wakeTimeoutS * 1000
    const { reason, actor } = describeReason(options.reason, 'wake')
    const controller = new AbortController()
    const w: Wake = {
      id: ++this.#ctx.wakeSeq,
      reason,
      actor,
      startedAt,
      deadline: startedAt + timeoutMs,
      timeoutMs,
      controller,
      deadlineTimer: { cancel: () => {} },
      promise: Promise.resolve() as unknown as Promise<ReadyInstance>,
      listeners: new Set(),
      owned: false,
      postSent: false,
      created: false,
      rebootSince: undefined,
      intentId: undefined,
      instanceId: undefined,
      wasReady: false,
      phase: 'waking',
      boot: null,
      bootPhaseSince: startedAt,
      lastNotYet: null,
      lastCloudError: null,
      pull: null,
    }
    armDeadline(this.#ctx.clock, w, w.deadline)
    this.#ctx.wake = w
    recordEvent(this.#ctx, {
      type: 'wake',
      reason,
      actor,
      message: `wake requested (${reason}); deadline in ${Math.round((w.deadline - now) / 1000)} s`,
      data: { wake: w.id, timeoutMs },
    })
    const run = this.#runWake(w).finally(() => {
      w.deadlineTimer.cancel()
      if (this.#ctx.wake === w) this.#ctx.wake = null
    })
    w.promise = run
    trackIn(this.#ctx, run)
    return w
  }

  async #runWake(w: Wake): Promise<ReadyInstance> {
    const signal = w.controller.signal
    try {
      let record = await this.#acquireWithRetry(w)
      const id = record.instanceId
      w.instanceId = id

      // Running, as Exoscale sees it (a finished operation is not a running instance).
      const running = await this.#ctx.client.waitForInstanceState(id, ['running'], { signal })
      const ip = running['public-ip'] ?? record.ip
      if (!ip) {
        throw new ProvisionerError(
          'instance_bad_answer',
          `instance ${id} runs without a public IPv4 address: exollama needs one; destroy it`,
          { kind: 'cloud' },
        )
      }
      if (record.state !== 'booting' || record.ip !== ip) {
        record =
          this.#ctx.store.instances.update(this.#ctx.settings.name, {
            ip,
            state: w.wasReady ? 'ready' : 'booting',
          }) ?? record
      }
      if (this.#ctx.state !== 'booting' && !w.wasReady) {
        transition(this.#ctx, 'booting', {
          type: 'boot',
          reason: w.reason,
          actor: w.actor,
          instanceId: id,
          message: `instance ${id} is running at ${ip}; waiting for its boot`,
        })
      }
      enterPhase(this.#ctx, w, 'booting')

      const endpoint = this.#ctx.endpoints.get(record)
      await waitForBootReady(endpoint, {
        clock: this.#ctx.clock,
        signal,
        probeTimeoutMs: this.#ctx.tuning.probeTimeoutMs,
        initialDelayMs: this.#ctx.tuning.bootPollInitialMs,
        maxDelayMs: this.#ctx.tuning.bootPollMaxMs,
        onStatus: (status) => this.#onBootStatus(w, status, id),
        onNotYet: (detail) => {
          w.lastNotYet = detail
        },
        ...(w.rebootSince === undefined
          ? {}
          : { freshSince: { sinceMs: w.rebootSince, toleranceMs: BOOT_STATUS_SKEW_MS } }),
      })

      const version = await waitForOllamaVersion(endpoint, {
        clock: this.#ctx.clock,
        signal,
        probeTimeoutMs: this.#ctx.tuning.probeTimeoutMs,
        initialDelayMs: this.#ctx.tuning.bootPollInitialMs,
        maxDelayMs: this.#ctx.tuning.bootPollMaxMs,
        onNotYet: (detail) => {
          w.lastNotYet = detail
        },
      })
      assertOllamaVersion(version, this.#ctx.settings.minOllamaVersion)
      this.#ctx.store.instances.update(this.#ctx.settings.name, { ollamaVersion: version })
      this.#ctx.store.metadata.put('/api/version', { version })

      if (!w.wasReady) {
        for (const model of this.#ctx.settings.models) await this.#preload(w, endpoint, model)
      }
      try {
        await refreshModels(this.#ctx, endpoint, {
          signal,
          timeoutMs: this.#ctx.tuning.probeTimeoutMs,
        })
      } catch (error) {
        if (signal.aborted) throw error
        this.#ctx.log.warn({ err: error }, 'could not read the models of the ready instance')
      }

      record =
        this.#ctx.store.instances.update(this.#ctx.settings.name, { state: 'ready' }) ?? record
      transition(this.#ctx, 'ready', {
        type: 'ready',
        reason: w.reason,
        actor: w.actor,
        instanceId: id,
        durationMs: this.#ctx.clock.now() - w.startedAt,
        message: `instance ${id} is ready (Ollama ${version}) after ${Math.round((this.#ctx.clock.now() - w.startedAt) / 1000)} s`,
        data: { ollamaVersion: version, wake: w.id },
      })
      enterPhase(this.#ctx, w, 'ready')
      onReady(this.#ctx, record)
      return this.#ctx.endpoints.ready(record)
    } catch (error) {
      throw await this.#failWake(w, error)
    }
  }

  #onBootStatus(w: Wake, status: BootStatus, instanceId: string): void {
    const previous = w.boot
    w.boot = status
    if (previous?.phase !== status.phase) {
      const now = this.#ctx.clock.now()
      recordEvent(this.#ctx, {
        type: 'boot',
        phase: status.phase,
        instanceId,
        // How long the previous phase took (as far as polling can tell).
        durationMs: previous ? now - w.bootPhaseSince : null,
        message: previous
          ? `boot phase ${status.phase} (${status.percent}%), after ${previous.phase}`
          : `boot phase ${status.phase} (${status.percent}%)`,
        data: {
          percent: status.percent,
          state: status.state,
          gpu: status.gpu,
          previous: previous?.phase ?? null,
        },
      })
      w.bootPhaseSince = now
    }
    if (previous?.phase !== status.phase || previous.percent !== status.percent) {
      enterPhase(this.#ctx, w, 'booting')
    }
  }

  async #preload(w: Wake, endpoint: InstanceEndpoint, model: string): Promise<void> {
    const started = this.#ctx.clock.now()
    enterPhase(this.#ctx, w, 'pulling-model', `pulling ${model}`)
    await pullModel(endpoint, model, {
      clock: this.#ctx.clock,
      signal: w.controller.signal,
      onProgress: (p) => {
        w.pull = {
          model,
          status: p.status,
          ...(p.completed === undefined ? {} : { completed: p.completed }),
          ...(p.total === undefined ? {} : { total: p.total }),
        }
        emitProgress(this.#ctx, w, { kind: 'pull', ...w.pull })
      },
    })
    w.pull = null
    recordEvent(this.#ctx, {
      type: 'pull',
      phase: 'model-pull',
      instanceId: w.instanceId ?? null,
      durationMs: this.#ctx.clock.now() - started,
      reason: 'EXOLLAMA_MODEL preload',
      message: `model ${model} pulled`,
      data: { model },
    })
  }

  /** #acquire, retried while the cloud blips and nothing has been created yet. */
  async #acquireWithRetry(w: Wake): Promise<InstanceRecord> {
    let delay = this.#ctx.tuning.transientRetryMs
    for (;;) {
      try {
        return await this.#ctx.lease.run((fence) => this.#acquire(w, fence), {
          signal: w.controller.signal,
          waitMs: Math.max(0, w.deadline - this.#ctx.clock.now()),
        })
      } catch (error) {
        if (w.controller.signal.aborted || w.postSent || !isTransientCloudFailure(error))
          throw error
        w.lastCloudError = errorSummary(error).message
        this.#ctx.log.warn({ err: error }, 'the cloud failed during a wake; retrying')
        await this.#ctx.clock.sleep(delay, w.controller.signal)
        delay = Math.min(10_000, delay * 2)
      }
    }
  }

  /**
   * Under the lease: re-reads store and cloud, then adopts what exists (starting it when
   * stopped) or creates a new instance. Never creates after a failed list.
   */
  async #acquire(w: Wake, fence: Fence): Promise<InstanceRecord> {
    const signal = w.controller.signal
    const name = this.#ctx.settings.name
    const listed = (await listOwned(this.#ctx.client, name, { signal })).filter(hasId)
    let record = this.#ctx.store.instances.get(name)
    const intents = this.#ctx.store.intents.list({ name, limit: 200 })
    const live = listed.filter((i) => !isGoing(i))
    const picked = pickKeeper(live, record, adoptableIntent(intents), 0)
    let keeper = picked?.instance

    if (!keeper && record && !listed.some((i) => i.id === record?.instanceId)) {
      // The list did not show the store's instance: only a 404 for its id proves it is gone.
      try {
        const again = await this.#ctx.client.getInstance(record.instanceId, { signal })
        if (again.id && !isGoing(again)) keeper = { ...again, id: again.id }
      } catch (error) {
        if (!isExoscaleError(error, 'exoscale_not_found')) throw error
      }
    }

    if (!keeper) {
      const foreign = live.filter((i) => i.id !== record?.instanceId)
      if (foreign.length > 0) {
        throw new ProvisionerError(
          'foreign_instance',
          `instance ${foreign.map((i) => i.id).join(', ')} is labelled exollama-name=${name} but this data directory holds no keys for it (another EXOLLAMA_DATA_DIR made it, or its store was lost): run "exollama destroy" to delete it, or use another EXOLLAMA_NAME; the reconcile loop deletes it ${Math.round(this.#ctx.tuning.orphanGraceMs / 60_000)} min after its creation`,
          { kind: 'config' },
        )
      }
      // Ours, but on its way out: let it go before making a new one.
      for (const going of listed.filter(isGoing)) {
        await this.#ctx.client.waitForInstanceGone(going.id, { signal })
      }
      if (record) forgetRecord(this.#ctx, record, 'its instance no longer exists')
      for (const intent of intents) {
        if (intent.state === 'pending') {
          this.#ctx.store.intents.markAbandoned(intent.id, 'no instance carries its label')
        }
      }
      return this.#create(w, fence)
    }

    // Adopt what exists, with the secrets its creator stored.
    if (!record || record.instanceId !== keeper.id) {
      // Not the store's instance: pickKeeper chose it for its adoptable intent.
      const intent = picked?.adopt as Intent
      record = this.#ctx.store.instances.save(
        recordFromIntent(intent, keeper, this.#ctx.clock.now()),
        fence,
      )
      if (intent.state === 'pending') {
        this.#ctx.store.intents.markCreated(intent.id, { instanceId: keeper.id })
      }
      recordEvent(this.#ctx, {
        type: 'adopt',
        instanceId: keeper.id,
        reason: w.reason,
        message: `adopted instance ${keeper.id} (intent ${intent.id}, ${keeper.state ?? 'unknown state'})`,
      })
    }
    w.instanceId = keeper.id
    this.#ensureSession(record, keeper)
    switch (keeper.state) {
      case 'running':
      case 'migrating':
        if (record.state === 'ready') {
          w.wasReady = true
        } else {
          this.#adoptInProgress(w, record, 'booting')
        }
        return record
      case 'stopped':
        return this.#startStopped(w, record)
      case 'stopping':
        await this.#ctx.client.waitForInstanceState(keeper.id, ['stopped'], { signal })
        return this.#startStopped(w, record)
      case 'error': {
        await deleteInstance(this.#ctx, keeper.id, 'it is in Exoscale error state')
        forgetRecord(this.#ctx, record, 'it was in error state and was deleted')
        return this.#create(w, fence)
      }
      default:
        // starting: someone's wake (ours before a crash, or another process's) is under way.
        this.#adoptInProgress(w, record, 'provisioning')
        return record
    }
  }

  /** Joins a wake begun elsewhere: its deadline counts from when that wake began. */
  #adoptInProgress(w: Wake, record: InstanceRecord, state: ProvisionerState): void {
    w.owned = true
    // Started long after its creation: a restart, whose disk holds the previous boot's status.
    if (record.startedAt !== null && record.startedAt - record.createdAt > RESTART_AFTER_MS) {
      w.rebootSince = record.startedAt
    }
    tightenDeadline(
      this.#ctx.clock,
      w,
      (record.startedAt ?? record.createdAt) + this.#ctx.settings.wakeTimeoutS * 1000,
    )
    if (this.#ctx.state !== state) {
      transition(this.#ctx, state, {
        type: 'adopt',
        reason: w.reason,
        actor: w.actor,
        instanceId: record.instanceId,
        message: `waiting for instance ${record.instanceId}, which a previous wake started`,
      })
    }
    enterPhase(this.#ctx, w, state)
  }

  async #startStopped(w: Wake, record: InstanceRecord): Promise<InstanceRecord> {
    const signal = w.controller.signal
    this.#ctx.timers.cancelDestroyAfter()
    transition(this.#ctx, 'provisioning', {
      type: 'start',
      reason: w.reason,
      actor: w.actor,
      instanceId: record.instanceId,
      message: `starting stopped instance ${record.instanceId}`,
    })
    enterPhase(this.#ctx, w, 'provisioning')
    w.owned = true
    // Before the call: any boot status written after this moment is this boot's.
    const requestedAt = this.#ctx.clock.now()
    w.rebootSince = requestedAt
    const op = await this.#ctx.client.startInstance(record.instanceId, { signal })
    await this.#ctx.client.waitForOperation(op, { signal })
    const now = this.#ctx.clock.now()
    const updated =
      this.#ctx.store.instances.update(this.#ctx.settings.name, {
        state: 'provisioning',
        startedAt: requestedAt,
      }) ?? record
    this.#ctx.store.usage.startSession({
      instanceId: updated.instanceId,
      instanceType: updated.instanceType,
      startedAt: now,
    })
    return updated
  }

  async #create(w: Wake, fence: Fence): Promise<InstanceRecord> {
    const signal = w.controller.signal
    const s = this.#ctx.settings
    transition(this.#ctx, 'provisioning', {
      type: 'create',
      reason: w.reason,
      actor: w.actor,
      message: `creating a ${s.instanceType} instance in ${s.zone} (${w.reason})`,
    })
    enterPhase(this.#ctx, w, 'provisioning')
    const plan = await resolveCreatePlan(this.#ctx.client, s, signal)
    const sg = await ensureSecurityGroup(
      { client: this.#ctx.client, logger: this.#ctx.log, signal },
      s.name,
      s.allowedCidrs,
    )
    this.#noteSecurityGroup(sg)
    const credentials = await generateInstanceCredentials({ clock: this.#ctx.clock })
    const ollamaKey = s.ollamaKey ?? credentials.ollamaKey
    let userData: string
    try {
      userData = buildUserData({
        name: s.name,
        ollamaKey,
        tls: { certPem: credentials.certPem, keyPem: credentials.keyPem },
        gpu: plan.gpu,
        ubuntu: plan.ubuntu,
        idleTimeoutS: s.idleTimeoutS,
        maxLifetimeS: s.maxLifetimeS,
        watchdogGraceS: s.watchdogGraceS,
        preloadModels: s.models,
        allowedCidrs: s.allowedCidrs,
        ollamaImageTag: s.ollamaImageTag,
        keepAlive: s.keepAlive,
      }).userData
    } catch (error) {
      throw explainRecipeError(error)
    }

    // Durable before the POST (synchronous=FULL, lease re-checked in the same transaction):
    // after a crash, the instance is found by this id and talked to with these secrets.
    const intent = this.#ctx.store.intents.create(
      {
        name: s.name,
        zone: plan.zone,
        instanceType: plan.instanceTypeName,
        template: plan.template.name,
        tlsCertPem: credentials.certPem,
        secrets: { ollamaKey, tlsKeyPem: credentials.keyPem },
      },
      fence,
    )
    w.intentId = intent.id
    recordEvent(this.#ctx, {
      type: 'create',
      reason: w.reason,
      actor: w.actor,
      message: `creating instance ${s.name} (intent ${intent.id})`,
      data: {
        intent: intent.id,
        zone: plan.zone,
        type: plan.instanceTypeName,
        template: plan.template.name,
        templateId: plan.template.id,
        diskGiB: plan.diskSizeGiB,
        gpu: plan.gpu,
      },
    })
    if (!this.#ctx.lease.holds(fence)) {
      this.#ctx.store.intents.markAbandoned(intent.id, 'lease lost before the create call')
      throw new ProvisionerError(
        'lease_busy',
        'another exollama process took over while this one was about to create the instance: retry',
        { kind: 'cloud' },
      )
    }
    const request: CreateInstanceRequest = {
      name: s.name,
      'instance-type': { id: plan.instanceType.id },
      template: { id: plan.template.id },
      'disk-size': plan.diskSizeGiB,
      'security-groups': [{ id: sg.id }],
      labels: instanceLabels(s.name, intent.id),
      'public-ip-assignment': 'inet4',
      'user-data': userData,
    }
    const ctx = { zone: plan.zone, instanceType: plan.instanceTypeName }

    let op
    w.postSent = true
    try {
      op = await this.#ctx.client.createInstance(request, { signal })
    } catch (error) {
      if (signal.aborted) {
        // The call may have landed: the failure path finds it by its intent label.
        w.owned = true
        throw error
      }
      if (isAmbiguousCreateFailure(error)) {
        recordEvent(this.#ctx, {
          type: 'create',
          errorCode: errorSummary(error).code,
          message: `the create call failed without a clear answer; looking for intent ${intent.id}`,
        })
        const found = await this.#findByIntent(intent.id, signal)
        if (found) {
          w.owned = true
          return this.#recordCreated(w, intent, found, undefined, fence)
        }
        this.#ctx.store.intents.markAbandoned(
          intent.id,
          `create failed (${errorSummary(error).code}); no instance carries the label`,
        )
        throw new ProvisionerError(
          'create_unconfirmed',
          `the create call failed without a clear answer (${errorSummary(error).code}) and no instance carries its intent label: nothing was created and it is never repeated blindly; retry`,
          { kind: 'cloud', cause: error },
        )
      }
      this.#ctx.store.intents.markAbandoned(intent.id, errorSummary(error).message)
      throw explainCreateError(error, ctx)
    }
    w.owned = true
    if (op.id) this.#ctx.store.intents.setOperation(intent.id, op.id)

    let instanceId: string | undefined
    try {
      const done = await this.#ctx.client.waitForOperation(op, { signal })
      instanceId = done.reference?.id
    } catch (error) {
      if (signal.aborted) throw error
      if (
        isExoscaleError(
          error,
          'exoscale_operation_failed',
          'exoscale_capacity_unavailable',
          'exoscale_quota_exceeded',
        )
      ) {
        // A definite failure: remove whatever it left behind (an instance in error state).
        for (const left of await this.#listByIntent(intent.id, signal).catch(() => [])) {
          await deleteInstance(this.#ctx, left.id, 'its create operation failed').catch(() => {})
        }
        this.#ctx.store.intents.markAbandoned(intent.id, errorSummary(error).message)
        w.owned = false
        throw explainCreateError(error, ctx)
      }
    }
    const instance = instanceId
      ? await this.#ctx.client.getInstance(instanceId, { signal })
      : await this.#findByIntent(intent.id, signal)
    if (!instance?.id) {
      this.#ctx.store.intents.markAbandoned(intent.id, 'the create operation named no instance')
      throw new ProvisionerError(
        'create_unconfirmed',
        `the create operation ended without naming an instance and none carries intent ${intent.id}: retry`,
        { kind: 'cloud' },
      )
    }
    return this.#recordCreated(w, intent, instance as ListedInstance, op.id, fence)
  }

  #recordCreated(
    w: Wake,
    intent: Intent,
    instance: ListedInstance,
    operationId: string | undefined,
    fence: Fence,
  ): InstanceRecord {
    const now = this.#ctx.clock.now()
    const current = this.#ctx.store.intents.get(intent.id)
    if (current?.state === 'pending') {
      this.#ctx.store.intents.markCreated(intent.id, {
        instanceId: instance.id,
        ...(operationId ? { operationId } : {}),
      })
    }
    const input = recordFromIntent(intent, instance, now)
    const record = this.#ctx.store.instances.save(
      { ...input, state: 'provisioning', startedAt: now },
      fence,
    )
    this.#ctx.store.usage.startSession({
      instanceId: instance.id,
      instanceType: record.instanceType,
      startedAt: now,
    })
    w.instanceId = instance.id
    w.created = true
    recordEvent(this.#ctx, {
      type: 'create',
      instanceId: instance.id,
      reason: w.reason,
      message: `instance ${instance.id} created (intent ${intent.id})`,
      data: { intent: intent.id, operation: operationId ?? null },
    })
    return record
  }

  async #listByIntent(intentId: string, signal?: AbortSignal): Promise<ListedInstance[]> {
    const name = this.#ctx.settings.name
    const listed = await listOwned(this.#ctx.client, name, {
      labels: intentFilter(name, intentId),
      signal,
    })
    return listed.filter(hasId).filter((i) => intentOf(i) === intentId)
  }

  /**
   * After an ambiguous create failure: list by the intent label, a few times (the instance may
   * show up a moment late). Throws the last list error when no list succeeded: absence was
   * never established, so nothing may be concluded.
   */
  async #findByIntent(intentId: string, signal?: AbortSignal): Promise<ListedInstance | undefined> {
    let succeeded = false
    let lastError: unknown
    for (const pause of [0, ...this.#ctx.tuning.ambiguousCreateChecksMs]) {
      if (pause > 0) await this.#ctx.clock.sleep(pause, signal)
      try {
        const found = await this.#listByIntent(intentId, signal)
        succeeded = true
        const live = found.filter((i) => !isGoing(i))
        if (live[0]) return live[0]
      } catch (error) {
        if (signal?.aborted) throw error
        lastError = error
      }
    }
    if (!succeeded) throw lastError
    return undefined
  }

  async #failWake(w: Wake, error: unknown): Promise<Error> {
    const reason: unknown = w.controller.signal.reason
    if (this.#ctx.closed || reason instanceof WakeCancelled) {
      const by = reason instanceof WakeCancelled ? reason.by : 'shutdown'
      return new ProvisionerError(
        by === 'shutdown' ? 'provisioner_closed' : 'wake_aborted',
        by === 'shutdown'
          ? 'exollama is shutting down; the instance was left as it is'
          : `the wake was cancelled by ${by}`,
        { kind: 'cloud' },
      )
    }
    const deadline = reason instanceof WakeDeadline
    const bootFailed = error instanceof BootFailure
    const unusable =
      deadline ||
      bootFailed ||
      isProvisionerError(
        error,
        'vm_ollama_too_old',
        'instance_key_rejected',
        'instance_bad_answer',
        'model_pull_failed',
      ) ||
      (error instanceof ExollamaError && error.code === 'tls_pin_mismatch') ||
      isExoscaleError(error, 'exoscale_operation_failed')
    let destroyed = 'no' as 'yes' | 'failed' | 'no'
    let destroyError: { code: string; message: string } | null = null
    this.#ctx.live = null
    if ((w.owned || unusable) && (w.instanceId || (w.intentId && w.postSent))) {
      try {
        await this.#ctx.lease.run(
          async () => {
            const ids = new Set<string>()
            if (w.instanceId) ids.add(w.instanceId)
            if (w.intentId && w.postSent) {
              for (const i of await this.#listByIntent(w.intentId)) {
                if (!isGoing(i)) ids.add(i.id)
              }
            }
            if (ids.size === 0) return
            await destroyLocked(this.#ctx, {
              ids: [...ids],
              actor: deadline ? 'wake deadline' : 'failed wake',
              reason: deadline ? 'not ready in time' : `wake failed: ${errorSummary(error).code}`,
              settle: false,
            })
            destroyed = 'yes'
          },
          { waitMs: this.#ctx.tuning.mutationTimeoutMs },
        )
      } catch (destroyFailure) {
        destroyed = 'failed'
        destroyError = errorSummary(destroyFailure)
        this.#ctx.log.error(
          { err: destroyFailure },
          'could not destroy the instance of a failed wake',
        )
      }
    }
    const fate =
      destroyed === 'yes'
        ? 'it was destroyed'
        : destroyed === 'failed'
          ? `destroying it failed too (${destroyError?.code}); the reconcile loop keeps trying`
          : ''
    let final: Error
    if (deadline) {
      final = new ProvisionerError(
        'wake_timeout',
        `the instance was not ready within ${Math.round(w.timeoutMs / 1000)} s (${this.#whereStuck(w)})${fate ? `: ${fate}` : ''}; raise EXOLLAMA_WAKE_TIMEOUT (or --timeout) if boots are slow here (GPU types take longer), or check the instance's boot log`,
        { kind: 'timeout', cause: error },
      )
    } else if (bootFailed) {
      const status = error.status
      final = new ProvisionerError(
        'boot_failed',
        `the instance failed to boot at step ${status.phase}: ${status.error ?? 'no reason given'}${fate ? `; ${fate}` : ''}`,
        { kind: 'cloud', cause: error },
      )
    } else if (error instanceof Error) {
      final = error
    } else {
      final = new ProvisionerError('boot_failed', String(error), { kind: 'internal' })
    }
    const summary = errorSummary(final)
    transitionToError(this.#ctx, summary, {
      reason: w.reason,
      actor: w.actor,
      instanceId: w.instanceId ?? null,
      message: summary.message,
      data: { wake: w.id, destroyed },
    })
    return final
  }

  #whereStuck(w: Wake): string {
    if (w.pull) return `pulling model ${w.pull.model}: ${w.pull.status}`
    if (w.boot) return `last boot phase ${w.boot.phase}, ${w.boot.percent}%`
    if (w.phase === 'booting') {
      return `the instance never answered on port ${INSTANCE_PORT}${w.lastNotYet ? ` (${w.lastNotYet})` : ''}`
    }
    if (w.lastCloudError) return `the Exoscale API kept failing: ${w.lastCloudError}`
    if (w.instanceId) return 'Exoscale had not started the instance'
    if (w.postSent) return 'Exoscale had not finished creating the instance'
    return `still ${w.phase}`
  }

  #ensureSession(record: InstanceRecord, cloud: Instance): void {
    if (cloud.state !== 'running' && cloud.state !== 'starting' && cloud.state !== 'migrating') {
      return
    }
    this.#ctx.store.usage.startSession({
      instanceId: record.instanceId,
      instanceType: record.instanceType,
      startedAt: record.startedAt ?? record.createdAt,
    })
  }

  // ---- ready, idle, lifetime ------------------------------------------------------------------

  // ---- stop and destroy -----------------------------------------------------------------------

  // ---- public lifecycle -----------------------------------------------------------------------

  async start(options: StartOptions = {}): Promise<ProvisionerStatus> {
    await this.ensureReady({
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
    const ready = await this.ensureReady({
      signal: options.signal,
      reason: `pull ${model} by ${options.actor ?? 'cli'}`,
      onProgress: options.onProgress,
    })
    const record = this.#ctx.store.instances.get(this.#ctx.settings.name)
    if (!record) throw closedError()
    const end = this.activity.begin()
    const started = this.#ctx.clock.now()
    try {
      await pullModel(this.#ctx.endpoints.get(record), model, {
        clock: this.#ctx.clock,
        signal: options.signal,
        ...(onProgress ? { onProgress } : {}),
      })
    } finally {
      end()
    }
    recordEvent(this.#ctx, {
      type: 'pull',
      phase: 'model-pull',
      instanceId: ready.instance.id,
      actor: options.actor ?? 'cli',
      durationMs: this.#ctx.clock.now() - started,
      message: `model ${model} pulled`,
      data: { model },
    })
    try {
      await refreshModels(this.#ctx, this.#ctx.endpoints.get(record), {
        timeoutMs: this.#ctx.tuning.probeTimeoutMs,
      })
    } catch (error) {
      this.#ctx.log.debug({ err: error }, 'tags after pull failed')
    }
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
        const sg = await ensureSecurityGroup(
          { client: this.#ctx.client, logger: this.#ctx.log },
          settings.name,
          settings.allowedCidrs,
        )
        this.#noteSecurityGroup(sg)
      })
    }
  }

  #noteSecurityGroup(sg: SecurityGroupSync): void {
    if (!sg.created && sg.added.length === 0 && sg.removed === 0) return
    recordEvent(this.#ctx, {
      type: 'security-group',
      message: `security group synced: ${sg.created ? 'created, ' : ''}${sg.added.length} rule(s) added, ${sg.removed} removed`,
      data: { id: sg.id, added: sg.added, removed: sg.removed, created: sg.created },
    })
  }

  // ---- reconcile ------------------------------------------------------------------------------

  async reconcile(): Promise<ReconcileReport> {
    if (this.#ctx.closed)
      return { skipped: 'closed', listed: 0, keeper: null, actions: [], waiting: [] }
    const report = await this.#ctx.lease.tryRun((fence) => this.#reconcileLocked(fence))
    if (!report) return { skipped: 'busy', listed: 0, keeper: null, actions: [], waiting: [] }
    if (report.resume) {
      // Outside the lease: the wake takes it itself.
      this.ensureReady({ reason: 'resume: instance found running' }).catch((error: unknown) =>
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
        const record = this.#ctx.store.instances.save(
          recordFromIntent(action.intent, action.instance, this.#ctx.clock.now()),
          fence,
        )
        if (action.intent.state === 'pending') {
          this.#ctx.store.intents.markCreated(action.intent.id, { instanceId: action.instance.id })
        }
        this.#ensureSession(record, action.instance)
        recordEvent(this.#ctx, {
          type: 'adopt',
          instanceId: action.instance.id,
          actor: 'reconcile',
          message: `adopted instance ${action.instance.id} (intent ${action.intent.id}, ${action.instance.state ?? 'unknown state'})`,
        })
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
