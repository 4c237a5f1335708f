import type { VmBootPhase } from './boot-status.js'

/**
 * Faults of the emulated VMs (`sim.vm.faults`), for tests of how the gateway and the
 * provisioner cope with an instance that does not come up as it should. Each `add` returns a
 * handle; a fault applies to `times` boots (default below), then goes inactive.
 */

/** Which instances a fault applies to; every given field must match. */
export interface VmFaultMatch {
  instanceId?: string
  /** The instance name. */
  name?: string
}

export type VmFaultSpec =
  /**
   * The boot fails when it reaches `phase`: boot.json says `state: failed`, that phase, and
   * `message` as `error` (default "<phase> failed: simulated failure"). Default times 1.
   */
  | {
      kind: 'boot-failure'
      phase: VmBootPhase
      message?: string
      times?: number
      match?: VmFaultMatch
    }
  /** The step `phase` takes `extraMs` longer (Infinity: the boot is stuck there). Default times 1. */
  | { kind: 'slow-boot'; phase: VmBootPhase; extraMs: number; times?: number; match?: VmFaultMatch }
  /**
   * nginx never comes up on the instance: connections are refused all boot long (the boot
   * itself then fails at `health`, as on a VM). Default times 1.
   */
  | { kind: 'proxy-down'; times?: number; match?: VmFaultMatch }
  /** The instance serves this key pair instead of its own (a pin mismatch). Default times Infinity. */
  | {
      kind: 'wrong-certificate'
      certPem: string
      keyPem: string
      times?: number
      match?: VmFaultMatch
    }
  /** The instance's Ollama reports this version on /api/version. Default times Infinity. */
  | { kind: 'ollama-version'; version: string; times?: number; match?: VmFaultMatch }

export type VmFaultKind = VmFaultSpec['kind']

export interface VmFaultHandle {
  readonly id: number
  readonly spec: VmFaultSpec
  /** How many boots it applied to. */
  readonly hits: number
  readonly active: boolean
  remove(): void
}

/** What a fault is matched against. */
export interface VmFaultSubject {
  instanceId: string
  name: string
}

const DEFAULT_TIMES: Record<VmFaultKind, number> = {
  'boot-failure': 1,
  'slow-boot': 1,
  'proxy-down': 1,
  'wrong-certificate': Infinity,
  'ollama-version': Infinity,
}

class VmFault implements VmFaultHandle {
  hits = 0
  removed = false
  readonly id: number
  readonly spec: VmFaultSpec
  readonly #limit: number
  readonly #onRemove: (fault: VmFault) => void

  constructor(id: number, spec: VmFaultSpec, onRemove: (fault: VmFault) => void) {
    this.id = id
    this.spec = spec
    this.#limit = spec.times ?? DEFAULT_TIMES[spec.kind]
    this.#onRemove = onRemove
  }

  get active(): boolean {
    return !this.removed && this.hits < this.#limit
  }

  remove(): void {
    this.removed = true
    this.#onRemove(this)
  }
}

type Of<K extends VmFaultKind> = Extract<VmFaultSpec, { kind: K }>

function matches(match: VmFaultMatch | undefined, subject: VmFaultSubject): boolean {
  if (!match) return true
  if (match.instanceId !== undefined && match.instanceId !== subject.instanceId) return false
  if (match.name !== undefined && match.name !== subject.name) return false
  return true
}

/** The fault switchboard of the emulated VMs. */
export class VmFaultRegistry {
  #nextId = 1
  #faults: VmFault[] = []

  add(spec: VmFaultSpec): VmFaultHandle {
    if (spec.kind === 'slow-boot' && !(spec.extraMs >= 0)) {
      throw new RangeError(`slow-boot extraMs must be >= 0, got ${spec.extraMs}`)
    }
    const fault = new VmFault(this.#nextId++, spec, (f) => {
      this.#faults = this.#faults.filter((x) => x !== f)
    })
    this.#faults.push(fault)
    return fault
  }

  /** The boot fails at `phase`. */
  failBoot(
    phase: VmBootPhase,
    options: Omit<Of<'boot-failure'>, 'kind' | 'phase'> = {},
  ): VmFaultHandle {
    return this.add({ kind: 'boot-failure', phase, ...options })
  }

  /** The step `phase` takes `extraMs` longer (Infinity: stuck). */
  slowBoot(
    phase: VmBootPhase,
    extraMs: number,
    options: Omit<Of<'slow-boot'>, 'kind' | 'phase' | 'extraMs'> = {},
  ): VmFaultHandle {
    return this.add({ kind: 'slow-boot', phase, extraMs, ...options })
  }

  /** nginx does not come up (connection refused). */
  proxyDown(options: Omit<Of<'proxy-down'>, 'kind'> = {}): VmFaultHandle {
    return this.add({ kind: 'proxy-down', ...options })
  }

  /** The instance presents another certificate. */
  wrongCertificate(
    pair: { certPem: string; keyPem: string },
    options: Omit<Of<'wrong-certificate'>, 'kind' | 'certPem' | 'keyPem'> = {},
  ): VmFaultHandle {
    return this.add({ kind: 'wrong-certificate', ...pair, ...options })
  }

  /** The instance's Ollama reports `version`. */
  ollamaVersion(
    version: string,
    options: Omit<Of<'ollama-version'>, 'kind' | 'version'> = {},
  ): VmFaultHandle {
    return this.add({ kind: 'ollama-version', version, ...options })
  }

  clear(): void {
    for (const f of this.#faults) f.removed = true
    this.#faults = []
  }

  list(): VmFaultHandle[] {
    return this.#faults.filter((f) => f.active)
  }

  /** @internal The first active fault of a kind for this instance (and phase); counts a hit. */
  take<K extends VmFaultKind>(
    kind: K,
    subject: VmFaultSubject,
    phase?: VmBootPhase,
  ): Of<K> | undefined {
    const fault = this.#faults.find(
      (f) =>
        f.active &&
        f.spec.kind === kind &&
        matches(f.spec.match, subject) &&
        (phase === undefined || !('phase' in f.spec) || f.spec.phase === phase),
    )
    if (!fault) return undefined
    fault.hits++
    return fault.spec as Of<K>
  }
}
