import type { Clock, Logger } from '../../shared/index.js'
import type { InstanceEvent } from '../types.js'
import { EmulatedVm, type VmEvent, type VmInfo } from './emulated-vm.js'
import { VmFaultRegistry } from './vm-faults.js'
import { resolveVmOptions, type ResolvedVmOptions, type VmOptions } from './vm-options.js'
import type { WatchdogDecision } from './watchdog.js'

/** `sim.vm`: the emulated VMs behind the simulated instances, for tests and the CLI. */
export interface VmController {
  /** False when started with `vm: { enabled: false }`: instances then have no VM. */
  readonly enabled: boolean
  /** The settings in force (the proxy kind `auto` resolved to, the phase timings, …). */
  readonly options: Readonly<ResolvedVmOptions>
  readonly faults: VmFaultRegistry
  /** The VM of an instance (undefined before its creation and after its destruction). */
  get(instanceId: string): VmInfo | undefined
  list(): VmInfo[]
  /** Subscribes to VM events; returns the unsubscribe function. */
  on(listener: (event: VmEvent) => void): () => void
  /**
   * Resolves with the VM's info as soon as `predicate` holds (checked now and after each of
   * its events); rejects when the signal aborts or the simulator closes.
   */
  waitFor(
    instanceId: string,
    predicate: (info: VmInfo) => boolean,
    options?: { signal?: AbortSignal },
  ): Promise<VmInfo>
  /** Runs the instance's watchdog now, as its timer would, and acts on the decision. */
  runWatchdog(instanceId: string): Promise<WatchdogDecision | undefined>
  /** Resolves when every VM has finished its pending power work (boots keep walking). */
  settled(): Promise<void>
}

export interface VmManagerDeps {
  clock: Clock
  logger: Logger
  options: VmOptions | undefined
  subscribe: (listener: (event: InstanceEvent) => void) => () => void
  powerOff: (instanceId: string) => boolean
}

/** Creates, powers and destroys emulated VMs as the simulated instances change state. */
export class VmManager implements VmController {
  readonly options: Readonly<ResolvedVmOptions>
  readonly faults = new VmFaultRegistry()
  readonly #d: VmManagerDeps
  readonly #vms = new Map<string, EmulatedVm>()
  readonly #listeners = new Set<(event: VmEvent) => void>()
  readonly #closers = new Set<(error: Error) => void>()
  readonly #unsubscribe: () => void
  #closed = false

  constructor(deps: VmManagerDeps) {
    this.#d = deps
    this.options = resolveVmOptions(deps.options)
    this.#unsubscribe = this.options.enabled
      ? deps.subscribe((event) => this.#onInstanceEvent(event))
      : () => undefined
  }

  get enabled(): boolean {
    return this.options.enabled
  }

  get(instanceId: string): VmInfo | undefined {
    const vm = this.#vms.get(instanceId)
    return vm && !vm.disposed ? vm.info() : undefined
  }

  list(): VmInfo[] {
    return [...this.#vms.values()].filter((vm) => !vm.disposed).map((vm) => vm.info())
  }

  on(listener: (event: VmEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  waitFor(
    instanceId: string,
    predicate: (info: VmInfo) => boolean,
    options: { signal?: AbortSignal } = {},
  ): Promise<VmInfo> {
    const current = this.get(instanceId)
    if (current && predicate(current)) return Promise.resolve(current)
    return new Promise((resolve, reject) => {
      const signal = options.signal
      const finish = (fn: () => void) => {
        off()
        this.#closers.delete(onClose)
        signal?.removeEventListener('abort', onAbort)
        fn()
      }
      const off = this.on((event) => {
        if (event.instanceId === instanceId && predicate(event.info)) {
          finish(() => resolve(event.info))
        }
      })
      const onClose = (error: Error) => finish(() => reject(error))
      const onAbort = () => finish(() => reject(signal?.reason ?? new Error('aborted')))
      if (this.#closed) return onClose(new Error('the simulator is closed'))
      this.#closers.add(onClose)
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async runWatchdog(instanceId: string): Promise<WatchdogDecision | undefined> {
    return this.#vms.get(instanceId)?.runWatchdog()
  }

  async settled(): Promise<void> {
    await Promise.all([...this.#vms.values()].map((vm) => vm.settled()))
  }

  /** Stops every VM (nginx included) and removes their disks. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe()
    await Promise.all([...this.#vms.values()].map((vm) => vm.dispose()))
    this.#vms.clear()
    for (const close of [...this.#closers]) close(new Error('the simulator is closed'))
  }

  #onInstanceEvent(event: InstanceEvent): void {
    if (this.#closed) return
    const view = event.instance
    let vm = this.#vms.get(view.id)
    if (!vm) {
      if (event.type === 'removed') return
      vm = new EmulatedVm({
        view,
        clock: this.#d.clock,
        logger: this.#d.logger.child({ instanceId: view.id }),
        faults: this.faults,
        options: this.options,
        powerOff: this.#d.powerOff,
        emit: (e) => this.#emit(e),
      })
      this.#vms.set(view.id, vm)
    }
    const target = vm
    switch (event.type) {
      case 'created':
      case 'updated':
        target.update(view)
        if (event.type === 'created' && view.state === 'running') void target.powerOn(view)
        break
      case 'rebooted':
        void target.reboot(view)
        break
      case 'state':
        if (view.state === 'running') void target.powerOn(view)
        else if (event.previousState === 'running') void target.powerOff()
        else target.update(view)
        break
      case 'removed':
        void target.dispose().then(() => {
          if (this.#vms.get(view.id) === target) this.#vms.delete(view.id)
        })
        break
    }
  }

  #emit(event: VmEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch (error) {
        this.#d.logger.error({ err: error }, 'VM event listener failed')
      }
    }
  }
}
