/**
 * What the CLI and the management API need from exollama's lifecycle, whether it is served by a
 * running gateway (asked over HTTP at EXOLLAMA_LISTEN) or by an in-process provisioner.
 */

/** The states of DESIGN §2, in the words users see. */
export const INSTANCE_STATES = [
  'absent',
  'provisioning',
  'booting',
  'ready',
  'stopping',
  'stopped',
  'destroying',
  'error',
] as const
export type InstanceState = (typeof INSTANCE_STATES)[number]

/** The status object of DESIGN §2 (`status --json`, `GET /exollama/v1/status`). Always complete. */
export interface StatusObject {
  state: InstanceState
  simulated: boolean
  instance: null | {
    id: string
    name: string
    zone: string
    type: string
    ip: string | null
    created_at: string
  }
  idle: {
    timeout_s: number
    remaining_s: number | null
    action: 'destroy' | 'stop'
  }
  models: string[]
  cost: {
    currency: string
    session: number | null
    month: number | null
  }
  /** Extra: the VM's boot progress while provisioning or booting. */
  boot?: { state: string; phase: string; percent: number; error: string | null; gpu: boolean }
  /** Extra: the last error, while state is "error". */
  error?: { code: string; message: string }
}

/** Progress reported during long work, rendered by the CLI (bars on a TTY, lines otherwise). */
export type Progress =
  | {
      kind: 'phase'
      /** provisioning, booting, installing, pulling-image, pulling-model, ready, stopping, … */
      phase: string
      /** Milliseconds since the command started. */
      elapsedMs: number
      message?: string
      boot?: { phase: string; percent: number }
    }
  | {
      kind: 'pull'
      model: string
      status: string
      completed?: number
      total?: number
    }

export interface LifecycleOptions {
  signal?: AbortSignal
  onProgress?: (progress: Progress) => void
}

export interface StartOptions extends LifecycleOptions {
  /** Counts from the command's start; at the deadline the instance it created is deleted. */
  timeoutMs?: number
}

export interface ModelInfo {
  name: string
  size?: number
  modified_at?: string
  details?: Record<string, unknown>
}

export interface Lifecycle {
  /** Queries the cloud (or the gateway): rejected credentials surface here. */
  status(options?: LifecycleOptions): Promise<StatusObject>
  /** Brings the instance to ready (create or start, boot, preload models). */
  start(options?: StartOptions): Promise<StatusObject>
  /** Powers the instance off, keeping its disk. */
  stop(options?: LifecycleOptions): Promise<StatusObject>
  /** Deletes the instance. */
  destroy(options?: LifecycleOptions): Promise<StatusObject>
  /** Pulls a model onto the ready instance, reporting progress. */
  pull(model: string, options?: LifecycleOptions): Promise<void>
  /** Models on the instance (or the last known list while it sleeps). */
  models(options?: LifecycleOptions): Promise<ModelInfo[]>
  close(): Promise<void>
}
