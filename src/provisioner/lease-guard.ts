import type { Clock, Logger, Timer } from '../shared/index.js'
import type { Fence, Store } from '../store/index.js'
import { ProvisionerError } from './errors.js'
import { Mutex } from './mutex.js'

export interface LeaseGuardOptions {
  store: Store
  /** The lease's name in the store (one per exollama name). */
  lease: string
  /** This process's identity (unique per provisioner). */
  owner: string
  clock: Clock
  logger: Logger
  ttlMs: number
  pollMs: number
}

export interface LeaseRunOptions {
  signal?: AbortSignal | undefined
  /** Longest wait for another process to give the lease up (default 2 min). */
  waitMs?: number | undefined
}

/**
 * The single-writer guard around cloud mutations: an in-process mutex, then the store's lease
 * (fencing number included), renewed in the background while held and released after. Two
 * processes sharing a data directory therefore never mutate the cloud for one name at the same
 * time; whoever gets the lease next re-reads store and cloud before acting.
 */
export class LeaseGuard {
  readonly #o: LeaseGuardOptions
  readonly #mutex = new Mutex()

  constructor(options: LeaseGuardOptions) {
    this.#o = options
  }

  /** Whether this process is inside `run` right now. */
  get busy(): boolean {
    return this.#mutex.held
  }

  /** Runs `fn` holding the lease; waits (polling) while another process holds it. */
  run<T>(fn: (fence: Fence) => Promise<T>, options: LeaseRunOptions = {}): Promise<T> {
    return this.#mutex.run(async () => {
      const fence = await this.#acquire(options)
      return this.#hold(fence, fn)
    }, options.signal)
  }

  /**
   * Runs `fn` holding the lease if it is free now (in this process and in the store);
   * otherwise returns `undefined` at once (the reconcile loop skips a round rather than queue).
   */
  async tryRun<T>(fn: (fence: Fence) => Promise<T>): Promise<T | undefined> {
    if (this.#mutex.held) return undefined
    return this.#mutex.run(async () => {
      const lease = this.#o.store.leases.acquire(this.#o.lease, this.#o.owner, this.#o.ttlMs)
      if (!lease) return undefined
      return this.#hold({ lease: lease.name, owner: lease.owner, fencing: lease.fencing }, fn)
    })
  }

  /** Whether `fence` is still the live holder (checked right before a create call). */
  holds(fence: Fence): boolean {
    return this.#o.store.leases.holds(fence)
  }

  async #acquire(options: LeaseRunOptions): Promise<Fence> {
    const { store, clock } = this.#o
    const deadline = clock.now() + (options.waitMs ?? 120_000)
    for (;;) {
      const lease = store.leases.acquire(this.#o.lease, this.#o.owner, this.#o.ttlMs)
      if (lease) return { lease: lease.name, owner: lease.owner, fencing: lease.fencing }
      if (clock.now() >= deadline) {
        const holder = store.leases.current(this.#o.lease)
        throw new ProvisionerError(
          'lease_busy',
          `another exollama process (${holder?.owner ?? 'unknown'}) has been changing the instance for too long: wait for it, or stop it if it hangs`,
          { kind: 'timeout' },
        )
      }
      await clock.sleep(this.#o.pollMs, options.signal)
    }
  }

  async #hold<T>(fence: Fence, fn: (fence: Fence) => Promise<T>): Promise<T> {
    const { store, clock, logger } = this.#o
    let timer: Timer | undefined
    const renew = () => {
      timer = clock.setTimer(this.#o.ttlMs / 3, () => {
        try {
          if (store.leases.renew(fence, this.#o.ttlMs)) renew()
          else logger.warn({ lease: fence.lease, fencing: fence.fencing }, 'lease lost while held')
        } catch (error) {
          logger.warn({ err: error }, 'could not renew the lease; retrying')
          renew()
        }
      })
    }
    renew()
    try {
      return await fn(fence)
    } finally {
      timer?.cancel()
      try {
        store.leases.release(fence)
      } catch (error) {
        logger.warn({ err: error }, 'could not release the lease (it expires by itself)')
      }
    }
  }
}
