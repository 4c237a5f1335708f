import { apiEndpointFor, hasCredentials, type Config } from '../config/index.js'
import { createExoscaleClient, type ExoscaleClientOptions } from '../exoscale/index.js'
import {
  createProvisioner,
  provisionerSettingsFromConfig,
  type Provisioner,
  type ProvisionerProgress,
} from '../provisioner/index.js'
import {
  ExollamaError,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../shared/index.js'
import { openStore, type Store } from '../store/index.js'
import type {
  Lifecycle,
  LifecycleOptions,
  ModelInfo,
  Progress,
  StartOptions,
  StatusObject,
} from './lifecycle.js'

export interface LocalLifecycleOptions {
  provisioner: Provisioner
  clock?: Clock | undefined
  /** Who the events log names as the actor (default `cli`). */
  actor?: string | undefined
  /** Runs after the provisioner is closed (close the store, …). */
  onClose?: (() => void | Promise<void>) | undefined
}

/** The provisioner's progress is the Lifecycle's Progress (same shape). */
function forward(
  onProgress: ((p: Progress) => void) | undefined,
): ((p: ProvisionerProgress) => void) | undefined {
  return onProgress ? (p) => onProgress(p) : undefined
}

/**
 * The Lifecycle of the CLI when no gateway runs: every command goes through an in-process
 * provisioner on the shared data directory (so the store lease keeps it from racing a gateway).
 * `start` counts `timeoutMs` from its call (the CLI subtracts what the command already spent),
 * retries refused connections until then, and at the deadline deletes the instance it created.
 */
export function createLocalLifecycle(options: LocalLifecycleOptions): Lifecycle {
  const { provisioner } = options
  const clock = options.clock ?? systemClock
  const actor = options.actor ?? 'cli'
  let closed = false

  const around = async (
    phase: string,
    done: string,
    opts: LifecycleOptions,
    run: () => Promise<StatusObject>,
  ): Promise<StatusObject> => {
    const started = clock.now()
    opts.onProgress?.({ kind: 'phase', phase, elapsedMs: 0 })
    const status = await run()
    opts.onProgress?.({ kind: 'phase', phase: done, elapsedMs: clock.now() - started })
    return status
  }

  return {
    status: (opts = {}) => provisioner.status({ signal: opts.signal }),

    start: (opts: StartOptions = {}) =>
      provisioner.start({
        signal: opts.signal,
        actor,
        onProgress: forward(opts.onProgress),
        ...(opts.timeoutMs === undefined
          ? {}
          : { timeoutMs: opts.timeoutMs, startedAt: clock.now() }),
      }),

    stop: (opts = {}) =>
      around('stopping', 'stopped', opts, () => provisioner.stop({ signal: opts.signal, actor })),

    destroy: (opts = {}) =>
      around('destroying', 'absent', opts, () =>
        provisioner.destroy({ signal: opts.signal, actor }),
      ),

    async pull(model, opts = {}) {
      await provisioner.pull(
        model,
        (p) =>
          opts.onProgress?.({
            kind: 'pull',
            model: p.model,
            status: p.status,
            ...(p.completed === undefined ? {} : { completed: p.completed }),
            ...(p.total === undefined ? {} : { total: p.total }),
          }),
        { signal: opts.signal, actor, onProgress: forward(opts.onProgress) },
      )
    },

    async models(opts = {}): Promise<ModelInfo[]> {
      return provisioner.models({ signal: opts.signal })
    },

    async close() {
      if (closed) return
      closed = true
      try {
        await provisioner.close()
      } finally {
        await options.onClose?.()
      }
    },
  }
}

/** The CLI asked for lifecycle work that needs the cloud, and no credentials are configured. */
export class NoCredentialsError extends ExollamaError {
  override name = 'NoCredentialsError'
  constructor(what: string) {
    super(
      'no_credentials',
      `${what} needs Exoscale credentials: set EXOSCALE_API_KEY and EXOSCALE_API_SECRET (environment, "exollama config set", or the exo CLI's exoscale.toml), or try exollama without them with "exollama serve --simulate"`,
      { kind: 'config' },
    )
  }
}

/**
 * A Lifecycle with no credentials and no gateway: nothing can exist in the cloud, so `status`
 * is `absent` and `simulated` (DESIGN §6), and anything that would act says how to configure.
 */
function credentiallessLifecycle(config: Config, store: Store, onClose: () => void): Lifecycle {
  const cached = store.metadata.get('/api/tags')?.body as
    { models?: { name?: string }[] } | undefined
  const models = (cached?.models ?? []).map((m) => m.name).filter((n): n is string => !!n)
  return {
    async status() {
      const month = store.usage.monthToDate()
      return {
        state: 'absent',
        simulated: true,
        instance: null,
        idle: {
          timeout_s: config.values.EXOSCALE_IDLE_TIMEOUT,
          remaining_s: null,
          action: config.values.EXOLLAMA_IDLE_ACTION,
        },
        models,
        cost: { currency: store.usage.currency, session: null, month: month.cost },
      }
    },
    start: () => Promise.reject(new NoCredentialsError('start')),
    stop: () => Promise.reject(new NoCredentialsError('stop')),
    destroy: () => Promise.reject(new NoCredentialsError('destroy')),
    pull: () => Promise.reject(new NoCredentialsError('pull')),
    models: () => Promise.resolve(models.map((name) => ({ name }))),
    close: () => {
      onClose()
      return Promise.resolve()
    },
  }
}

export interface OpenLocalLifecycleOptions {
  logger?: Logger | undefined
  clock?: Clock | undefined
  /** Where the instance's nginx answers (tests point it at a local server). */
  instanceOrigin?: ((ip: string, instanceId: string) => string) | undefined
  /** Client tuning (poll interval, retries, fetch); credentials and endpoint come from the config. */
  client?: Pick<ExoscaleClientOptions, 'pollIntervalMs' | 'retry' | 'fetch'> | undefined
}

/**
 * Builds the local Lifecycle from a loaded config: the store in the data directory, an
 * Exoscale client for EXOSCALE_API_ENDPOINT / EXOSCALE_ZONE, and a provisioner without its
 * background loop (a command is short-lived; `start` adopts or cleans up what a crash left).
 * Without credentials it returns the credential-less Lifecycle (status `absent`, simulated).
 */
export async function openLocalLifecycle(
  config: Config,
  options: OpenLocalLifecycleOptions = {},
): Promise<Lifecycle> {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const values = config.values
  const store = openStore({
    dataDir: config.dataDir,
    clock,
    logger,
    currency: values.EXOLLAMA_CURRENCY,
    ...(values.EXOLLAMA_PRICE_PER_HOUR === undefined
      ? {}
      : { priceOverrides: { [values.EXOSCALE_INSTANCE_TYPE]: values.EXOLLAMA_PRICE_PER_HOUR } }),
  })
  const apiKey = values.EXOSCALE_API_KEY
  const apiSecret = values.EXOSCALE_API_SECRET
  if (!hasCredentials(config) || !apiKey || !apiSecret) {
    return credentiallessLifecycle(config, store, () => store.close())
  }
  try {
    const client = createExoscaleClient({
      apiKey: apiKey.reveal(),
      apiSecret,
      zone: values.EXOSCALE_ZONE,
      endpoint: apiEndpointFor(config),
      clock,
      logger,
      ...options.client,
    })
    const provisioner = createProvisioner({
      settings: provisionerSettingsFromConfig(values),
      client,
      store,
      clock,
      logger,
      simulated: false,
      background: false,
      ...(options.instanceOrigin ? { instanceOrigin: options.instanceOrigin } : {}),
    })
    return createLocalLifecycle({ provisioner, clock, onClose: () => store.close() })
  } catch (error) {
    store.close()
    throw error
  }
}
