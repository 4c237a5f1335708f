import type { OperationReason, ZoneName } from './types.js'

/**
 * Faults a test switches on to see how a client copes. Each `add` returns a handle; a fault
 * fires `times` times (then goes inactive) or until removed. Request faults are checked in the
 * order they were added; the first active match wins.
 */

/** Which requests (or operations) a fault applies to. Every given field must match. */
export interface FaultMatch {
  /** HTTP method, upper case. */
  method?: string
  /** The API path below /v2 (no zone prefix), e.g. `/instance`; a RegExp is tested against it. */
  path?: string | RegExp
  /** The spec's operation id, e.g. `create-instance`, `start-instance`, `get-operation`. */
  operationId?: string
  zone?: ZoneName
}

export type ServerErrorStatus = 500 | 502 | 503 | 504

export type FaultSpec =
  /** 429 with a Retry-After header (seconds, or an HTTP date string). Default times 1. */
  | { kind: 'rate-limit'; retryAfter?: number | string; times?: number; match?: FaultMatch }
  /** A 5xx before the request is handled: nothing happens. Default times 1. */
  | {
      kind: 'server-error'
      status?: ServerErrorStatus
      /**
       * `json` `{"message":...}` (default), `problem` RFC 9457 problem details, `text` plain
       * text, `empty` no body: the error shapes the real API is known to use.
       */
      body?: 'json' | 'problem' | 'text' | 'empty'
      retryAfter?: number | string
      times?: number
      match?: FaultMatch
    }
  /** The request IS handled (e.g. the instance is created) but the answer is a 5xx. Default times 1. */
  | { kind: 'lost-response'; status?: ServerErrorStatus; times?: number; match?: FaultMatch }
  /**
   * The socket is destroyed without an answer: `before` handling (nothing happens) or `after`
   * (the request took effect). Default times 1.
   */
  | { kind: 'connection-reset'; when?: 'before' | 'after'; times?: number; match?: FaultMatch }
  /**
   * The next matching mutation's operation ends `failure` (or `timeout`) with this reason and
   * message; its effect is rolled back (a created instance disappears) unless `instanceState`
   * says the instance stays, in that state. Default times 1.
   */
  | {
      kind: 'operation-failure'
      state?: 'failure' | 'timeout'
      reason?: OperationReason
      message?: string
      instanceState?: 'error'
      times?: number
      match?: FaultMatch
    }
  /** Matching operations take `delayMs` longer (Infinity: they stay pending). Default times Infinity. */
  | { kind: 'slow-operation'; delayMs: number; times?: number; match?: FaultMatch }
  /**
   * No capacity for an instance type (`family.size`): create (and start) operations for it end
   * `failure`, reason `unavailable`, message `Insufficient capacity for <type> in <zone>`.
   * Default times Infinity.
   */
  | { kind: 'capacity'; instanceType: string; zone?: ZoneName; times?: number }
  /** Overrides an organisation quota limit while active (0 also de-authorizes a GPU family). */
  | { kind: 'quota'; resource: string; limit: number }

export type FaultKind = FaultSpec['kind']

/** A fault that is switched on. */
export interface FaultHandle {
  readonly id: number
  readonly spec: FaultSpec
  /** How many times it fired. */
  readonly hits: number
  /** False once it fired `times` times or was removed. */
  readonly active: boolean
  remove(): void
}

/** What a request or an operation looks like to a matcher. */
export interface FaultSubject {
  method: string
  path: string
  operationId: string | undefined
  zone: ZoneName
}

class Fault implements FaultHandle {
  hits = 0
  removed = false
  readonly #limit: number
  readonly id: number
  readonly spec: FaultSpec
  readonly registry: FaultRegistry
  constructor(id: number, spec: FaultSpec, registry: FaultRegistry) {
    this.id = id
    this.spec = spec
    this.registry = registry
    const defaultTimes = ['slow-operation', 'capacity', 'quota'].includes(spec.kind) ? Infinity : 1
    this.#limit = 'times' in spec && spec.times !== undefined ? spec.times : defaultTimes
  }
  get active(): boolean {
    return !this.removed && this.hits < this.#limit
  }
  remove(): void {
    this.removed = true
    this.registry.forget(this)
  }
}

function matches(match: FaultMatch | undefined, subject: FaultSubject): boolean {
  if (!match) return true
  if (match.method !== undefined && match.method.toUpperCase() !== subject.method) return false
  if (match.operationId !== undefined && match.operationId !== subject.operationId) return false
  if (match.zone !== undefined && match.zone !== subject.zone) return false
  if (match.path !== undefined) {
    if (
      typeof match.path === 'string' ? match.path !== subject.path : !match.path.test(subject.path)
    )
      return false
  }
  return true
}

type Of<K extends FaultKind> = Extract<FaultSpec, { kind: K }>
type Options<K extends FaultKind> = Omit<Of<K>, 'kind'>

/** The fault switchboard of one simulator (`sim.faults`). */
export class FaultRegistry {
  #nextId = 1
  #faults: Fault[] = []

  /** Switches a fault on. */
  add(spec: FaultSpec): FaultHandle {
    if (spec.kind === 'quota' && (!Number.isInteger(spec.limit) || spec.limit < -1)) {
      throw new RangeError(`quota limit must be an integer >= -1, got ${spec.limit}`)
    }
    const fault = new Fault(this.#nextId++, spec, this)
    this.#faults.push(fault)
    return fault
  }

  /** 429 + Retry-After for the next `times` matching requests. */
  rateLimit(options: Options<'rate-limit'> = {}): FaultHandle {
    return this.add({ kind: 'rate-limit', ...options })
  }

  /** A 5xx (default 503) for the next `times` matching requests. */
  serverError(options: Options<'server-error'> = {}): FaultHandle {
    return this.add({ kind: 'server-error', ...options })
  }

  /** The matching request takes effect but answers a 5xx (default 502). */
  lostResponse(options: Options<'lost-response'> = {}): FaultHandle {
    return this.add({ kind: 'lost-response', ...options })
  }

  /** The socket is reset (default before handling). */
  connectionReset(options: Options<'connection-reset'> = {}): FaultHandle {
    return this.add({ kind: 'connection-reset', ...options })
  }

  /** The next matching operation ends failure (or timeout). */
  failOperation(options: Options<'operation-failure'> = {}): FaultHandle {
    return this.add({ kind: 'operation-failure', ...options })
  }

  /** Matching operations take `delayMs` longer (Infinity: never finish). */
  slowOperations(
    delayMs: number,
    options: Omit<Options<'slow-operation'>, 'delayMs'> = {},
  ): FaultHandle {
    return this.add({ kind: 'slow-operation', delayMs, ...options })
  }

  /** No capacity for `instanceType` (`family.size`), in `zone` or everywhere. */
  capacity(
    instanceType: string,
    options: Omit<Options<'capacity'>, 'instanceType'> = {},
  ): FaultHandle {
    return this.add({ kind: 'capacity', instanceType, ...options })
  }

  /** Sets a quota limit while the handle is active. */
  quota(resource: string, limit: number): FaultHandle {
    return this.add({ kind: 'quota', resource, limit })
  }

  /** Switches every fault off. */
  clear(): void {
    for (const f of this.#faults) f.removed = true
    this.#faults = []
  }

  /** The faults that are still active. */
  list(): FaultHandle[] {
    return this.#faults.filter((f) => f.active)
  }

  /** @internal */
  forget(fault: Fault): void {
    this.#faults = this.#faults.filter((f) => f !== fault)
  }

  /** @internal The first active request-level fault for this request; counts a hit. */
  takeRequestFault(
    subject: FaultSubject,
  ): Of<'rate-limit' | 'server-error' | 'lost-response' | 'connection-reset'> | undefined {
    const fault = this.#faults.find(
      (f) =>
        f.active &&
        (f.spec.kind === 'rate-limit' ||
          f.spec.kind === 'server-error' ||
          f.spec.kind === 'lost-response' ||
          f.spec.kind === 'connection-reset') &&
        matches(f.spec.match, subject),
    )
    if (!fault) return undefined
    fault.hits++
    return fault.spec as Of<'rate-limit' | 'server-error' | 'lost-response' | 'connection-reset'>
  }

  /** @internal Failure and extra delay for an operation being started; counts hits. */
  takeOperationFaults(
    subject: FaultSubject,
    instanceType: string | undefined,
  ): { failure: Of<'operation-failure'> | Of<'capacity'> | undefined; extraDelayMs: number } {
    let failure: Of<'operation-failure'> | Of<'capacity'> | undefined
    if (instanceType !== undefined) {
      const cap = this.#faults.find(
        (f) =>
          f.active &&
          f.spec.kind === 'capacity' &&
          f.spec.instanceType === instanceType &&
          (f.spec.zone === undefined || f.spec.zone === subject.zone),
      )
      if (cap) {
        cap.hits++
        failure = cap.spec as Of<'capacity'>
      }
    }
    if (!failure) {
      const fail = this.#faults.find(
        (f) => f.active && f.spec.kind === 'operation-failure' && matches(f.spec.match, subject),
      )
      if (fail) {
        fail.hits++
        failure = fail.spec as Of<'operation-failure'>
      }
    }
    let extraDelayMs = 0
    for (const f of this.#faults) {
      if (f.active && f.spec.kind === 'slow-operation' && matches(f.spec.match, subject)) {
        f.hits++
        extraDelayMs += f.spec.delayMs
      }
    }
    return { failure, extraDelayMs }
  }

  /** @internal The quota limit override for a resource, if a quota fault is active. */
  quotaOverride(resource: string): number | undefined {
    let limit: number | undefined
    for (const f of this.#faults) {
      if (f.active && f.spec.kind === 'quota' && f.spec.resource === resource) limit = f.spec.limit
    }
    return limit
  }
}
