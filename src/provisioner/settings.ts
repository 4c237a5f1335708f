import type { SettingValues } from '../config/index.js'
import type { Secret } from '../shared/index.js'

/** What idleness does to the instance (EXOLLAMA_IDLE_ACTION). */
export type IdleAction = 'destroy' | 'stop'

/**
 * The provisioner's settings: a plain object built from configuration values (see
 * {@link provisionerSettingsFromConfig}); the provisioner never reads the environment.
 */
export interface ProvisionerSettings {
  /** EXOLLAMA_NAME: instance name, `exollama-name` label, security group `exollama-<name>`. */
  readonly name: string
  /** EXOSCALE_ZONE. */
  readonly zone: string
  /** EXOSCALE_INSTANCE_TYPE, `family.size`. */
  readonly instanceType: string
  /** EXOSCALE_TEMPLATE, a template name resolved in the zone (newest wins). */
  readonly template: string
  /** EXOSCALE_DISK_SIZE in GiB. */
  readonly diskSizeGiB: number
  /** EXOSCALE_OLLAMA_KEY: overrides the random per-instance key. */
  readonly ollamaKey?: Secret | undefined
  /** EXOSCALE_IDLE_TIMEOUT in seconds. */
  readonly idleTimeoutS: number
  /** EXOLLAMA_IDLE_ACTION. */
  readonly idleAction: IdleAction
  /** EXOLLAMA_DESTROY_AFTER in seconds (stop mode: how long a stopped instance is kept). */
  readonly destroyAfterS: number
  /** EXOLLAMA_MODEL: models pulled after boot. */
  readonly models: readonly string[]
  /** EXOLLAMA_WAKE_TIMEOUT in seconds: how long a wake may take before it is given up. */
  readonly wakeTimeoutS: number
  /** EXOLLAMA_MAX_LIFETIME in seconds: the instance is destroyed at created + this. */
  readonly maxLifetimeS: number
  /** EXOLLAMA_ALLOWED_CIDRS: one security-group ingress rule each, TCP 11435. */
  readonly allowedCidrs: readonly string[]
  /** EXOLLAMA_MIN_OLLAMA_VERSION: older Ollama on the instance is refused. */
  readonly minOllamaVersion: string
  /** EXOLLAMA_OLLAMA_IMAGE_TAG. */
  readonly ollamaImageTag: string
  /** EXOLLAMA_KEEP_ALIVE. */
  readonly keepAlive: string
  /** EXOLLAMA_WATCHDOG_GRACE in seconds. */
  readonly watchdogGraceS: number
}

/** Built-in values for everything not set (the defaults of DESIGN §2). */
export const DEFAULT_PROVISIONER_SETTINGS: ProvisionerSettings = Object.freeze({
  name: 'exollama',
  zone: 'ch-gva-2',
  instanceType: 'standard.medium',
  template: 'Linux Ubuntu 22.04 LTS 64-bit',
  diskSizeGiB: 50,
  ollamaKey: undefined,
  idleTimeoutS: 1800,
  idleAction: 'destroy',
  destroyAfterS: 86_400,
  models: Object.freeze([]) as readonly string[],
  wakeTimeoutS: 900,
  maxLifetimeS: 86_400,
  allowedCidrs: Object.freeze(['0.0.0.0/0']) as readonly string[],
  minOllamaVersion: '0.17.1',
  ollamaImageTag: '0.32.15',
  keepAlive: '-1',
  watchdogGraceS: 600,
})

/** The provisioner's settings from loaded configuration values (`loadConfig(...).values`). */
export function provisionerSettingsFromConfig(values: SettingValues): ProvisionerSettings {
  return Object.freeze({
    name: values.EXOLLAMA_NAME,
    zone: values.EXOSCALE_ZONE,
    instanceType: values.EXOSCALE_INSTANCE_TYPE,
    template: values.EXOSCALE_TEMPLATE,
    diskSizeGiB: values.EXOSCALE_DISK_SIZE,
    ollamaKey: values.EXOSCALE_OLLAMA_KEY,
    idleTimeoutS: values.EXOSCALE_IDLE_TIMEOUT,
    idleAction: values.EXOLLAMA_IDLE_ACTION,
    destroyAfterS: values.EXOLLAMA_DESTROY_AFTER,
    models: [...values.EXOLLAMA_MODEL],
    wakeTimeoutS: values.EXOLLAMA_WAKE_TIMEOUT,
    maxLifetimeS: values.EXOLLAMA_MAX_LIFETIME,
    allowedCidrs: [...values.EXOLLAMA_ALLOWED_CIDRS],
    minOllamaVersion: values.EXOLLAMA_MIN_OLLAMA_VERSION,
    ollamaImageTag: values.EXOLLAMA_OLLAMA_IMAGE_TAG,
    keepAlive: values.EXOLLAMA_KEEP_ALIVE,
    watchdogGraceS: values.EXOLLAMA_WATCHDOG_GRACE,
  })
}

/** Timing knobs that are not user settings. Tests shrink them. */
export interface ProvisionerTuning {
  /** How often the reconcile loop runs (60 s). */
  readonly reconcileIntervalMs: number
  /** A labelled instance this store knows nothing about is destroyed this long after its creation (10 min). */
  readonly orphanGraceMs: number
  /** A pending intent without an instance is abandoned after this long (2 min). */
  readonly intentGraceMs: number
  /** TTL of the store lease around cloud mutations; renewed every third of it (30 s). */
  readonly leaseTtlMs: number
  /** Pause between attempts to take a lease another process holds (250 ms). */
  readonly leasePollMs: number
  /** First pause between boot-status polls; grows ×1.5 up to bootPollMaxMs (250 ms). */
  readonly bootPollInitialMs: number
  /** Cap of the boot-status backoff (2 s). */
  readonly bootPollMaxMs: number
  /** Per-request limit of boot-status, version and tags requests to the instance (10 s). */
  readonly probeTimeoutMs: number
  /** Pauses between the label searches after an ambiguous create failure (1 s, 2 s, 4 s). */
  readonly ambiguousCreateChecksMs: readonly number[]
  /** Longest wait for a delete or stop operation (2 min). */
  readonly mutationTimeoutMs: number
  /** Pause before retrying a transient cloud failure during a wake, before anything was created (1 s, doubling to 10 s). */
  readonly transientRetryMs: number
}

export const DEFAULT_TUNING: ProvisionerTuning = Object.freeze({
  reconcileIntervalMs: 60_000,
  orphanGraceMs: 600_000,
  intentGraceMs: 120_000,
  leaseTtlMs: 30_000,
  leasePollMs: 250,
  bootPollInitialMs: 250,
  bootPollMaxMs: 2_000,
  probeTimeoutMs: 10_000,
  ambiguousCreateChecksMs: Object.freeze([1_000, 2_000, 4_000]) as readonly number[],
  mutationTimeoutMs: 120_000,
  transientRetryMs: 1_000,
})
