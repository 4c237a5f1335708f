import type { IdleAction } from './settings.js'

/** The lifecycle states, in the words of DESIGN §2. */
export const PROVISIONER_STATES = [
  'absent',
  'provisioning',
  'booting',
  'ready',
  'stopping',
  'stopped',
  'destroying',
  'error',
] as const
export type ProvisionerState = (typeof PROVISIONER_STATES)[number]

/** The VM's own boot progress (GET /exollama/boot), as the status object shows it. */
export interface BootView {
  state: string
  phase: string
  percent: number
  error: string | null
  gpu: boolean
}

/**
 * The status object of DESIGN §2 (same shape as `StatusObject` in src/app/lifecycle.ts). Every
 * field is always present; `boot` while provisioning/booting, `error` while in `error`.
 */
export interface ProvisionerStatus {
  state: ProvisionerState
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
    action: IdleAction
  }
  models: string[]
  cost: {
    currency: string
    session: number | null
    month: number | null
  }
  boot?: BootView
  error?: { code: string; message: string }
}

/** Progress of long work (same shape as `Progress` in src/app/lifecycle.ts). */
export type ProvisionerProgress =
  | {
      kind: 'phase'
      /** provisioning, booting, pulling-model, ready, stopping, destroying, … */
      phase: string
      /** Milliseconds since the work started. */
      elapsedMs: number
      message?: string
      /** The VM's boot phase and percent while booting. */
      boot?: { phase: string; percent: number }
    }
  | {
      kind: 'pull'
      model: string
      status: string
      completed?: number
      total?: number
    }

/** What a wake is doing right now (for the dashboard and held requests). */
export interface WakeProgress {
  state: ProvisionerState
  /** provisioning, booting, pulling-model, ready. */
  phase: string
  /** Who or what woke the instance. */
  reason: string
  startedAt: number
  elapsedMs: number
  /** When the wake gives up. */
  deadline: number
  boot: BootView | null
  pull: { model: string; status: string; completed?: number; total?: number } | null
}
