import type { BootStatus } from '../recipe/index.js'
import type { Clock } from '../shared/index.js'
import { ProvisionerError } from './errors.js'
import { probeBootStatus, probeOllamaVersion, type InstanceEndpoint } from './instance-api.js'

/** How the readiness loops poll the instance. */
export interface PollOptions {
  clock: Clock
  signal: AbortSignal
  /** Per-request limit. */
  probeTimeoutMs: number
  /** First pause between polls; grows ×1.5 up to `maxDelayMs`. */
  initialDelayMs: number
  maxDelayMs: number
  /** Every poll that found the VM (or Ollama) not answering yet. */
  onNotYet?: (detail: string) => void
}

export interface BootWaitOptions extends PollOptions {
  /** Every boot status read (for progress and events). */
  onStatus?: (status: BootStatus) => void
  /**
   * For an instance that booted before (started from stopped, adopted): its disk still holds
   * the previous boot's status (often `ready`), which nginx serves until this boot's first
   * write. A `ready` or `failed` counts only once this boot has visibly written: a `running`
   * status was seen, or `updated_at` is not older than the second of `sinceMs` minus
   * `toleranceMs` (clock skew).
   */
  freshSince?: { sinceMs: number; toleranceMs: number } | undefined
}

/** The VM said its boot failed (`state: failed`); carries the VM's own one-line reason. */
export class BootFailure extends Error {
  readonly status: BootStatus
  constructor(status: BootStatus) {
    super(`boot failed at ${status.phase}: ${status.error ?? 'no reason given'}`)
    this.status = status
  }
}

/**
 * Polls `GET /exollama/boot` until `state: ready`, with a backoff capped at `maxDelayMs`.
 * Connection refused and the 503 "booting" are normal while the VM boots; `state: failed`
 * throws BootFailure; the signal (the wake's deadline) ends the wait.
 */
export async function waitForBootReady(
  endpoint: InstanceEndpoint,
  options: BootWaitOptions,
): Promise<BootStatus> {
  let delay = options.initialDelayMs
  let sawRunning = false
  // `updated_at` has whole seconds: a write in the second of `sinceMs` counts as fresh.
  const since = options.freshSince
  const fresh = (status: BootStatus) =>
    !since ||
    sawRunning ||
    status.updated_at >= Math.floor((since.sinceMs - since.toleranceMs) / 1000)
  for (;;) {
    const probe = await probeBootStatus(endpoint, {
      clock: options.clock,
      signal: options.signal,
      timeoutMs: options.probeTimeoutMs,
    })
    if (probe.kind === 'status') {
      const status = probe.status
      if (status.state === 'running') sawRunning = true
      if (status.state !== 'running' && !fresh(status)) {
        options.onNotYet?.(`the previous boot's status (${status.state})`)
      } else {
        options.onStatus?.(status)
        if (status.state === 'ready') return status
        if (status.state === 'failed') throw new BootFailure(status)
      }
    } else {
      options.onNotYet?.(probe.detail)
    }
    await options.clock.sleep(delay, options.signal)
    delay = Math.min(options.maxDelayMs, Math.ceil(delay * 1.5))
  }
}

/** `[major, minor, patch]` of a version such as `0.32.15` or `0.6.0-rc2`; undefined otherwise. */
export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim())
  if (!m) return undefined
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
}

/** Negative when a < b, 0 when equal, positive when a > b (numeric parts only). */
export function compareVersionParts(
  a: readonly [number, number, number],
  b: readonly [number, number, number],
): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/**
 * Refuses an Ollama older than the configured minimum (older releases have known remote
 * vulnerabilities), or one whose version cannot be read (development builds say 0.0.0).
 */
export function assertOllamaVersion(found: string, minimum: string): void {
  const have = parseVersion(found)
  const want = parseVersion(minimum)
  if (!want) return
  if (!have || have.every((n) => n === 0) || compareVersionParts(have, want) < 0) {
    throw new ProvisionerError(
      'vm_ollama_too_old',
      `the instance runs Ollama ${JSON.stringify(found.slice(0, 40))}, older than EXOLLAMA_MIN_OLLAMA_VERSION ${minimum} (older releases have known vulnerabilities): set EXOLLAMA_OLLAMA_IMAGE_TAG to ${minimum} or newer`,
      { kind: 'config' },
    )
  }
}

/**
 * Ollama's version once it answers through nginx: a 502 while Ollama (re)starts behind a
 * `ready` boot status is waited out (until the wake's deadline), not taken for a broken instance.
 */
export async function waitForOllamaVersion(
  endpoint: InstanceEndpoint,
  options: PollOptions,
): Promise<string> {
  let delay = options.initialDelayMs
  for (;;) {
    const probe = await probeOllamaVersion(endpoint, {
      clock: options.clock,
      signal: options.signal,
      timeoutMs: options.probeTimeoutMs,
    })
    if (probe.kind === 'version') return probe.version
    options.onNotYet?.(probe.detail)
    await options.clock.sleep(delay, options.signal)
    delay = Math.min(options.maxDelayMs, Math.ceil(delay * 1.5))
  }
}
