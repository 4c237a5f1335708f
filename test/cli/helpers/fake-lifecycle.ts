/**
 * A FAKE Lifecycle for the CLI's own tests: it records what the CLI asks and answers from a
 * script, so rendering, JSON and exit codes can be checked without the provisioner. The real
 * Lifecycle (src/app) is tested end to end against the simulator elsewhere.
 */
import type {
  Lifecycle,
  LifecycleOptions,
  ModelInfo,
  Progress,
  StartOptions,
  StatusObject,
} from '../../../src/app/index.js'
import type { CliDeps, LifecycleContext } from '../../../src/cli/index.js'
import type { Config } from '../../../src/config/index.js'

export const READY_STATUS: StatusObject = {
  state: 'ready',
  simulated: false,
  instance: {
    id: '4f1d6c8e-2b7a-4c3e-9d5f-0a1b2c3d4e5f',
    name: 'exollama',
    zone: 'ch-gva-2',
    type: 'standard.medium',
    ip: '203.0.113.10',
    created_at: '2026-01-15T11:00:00.000Z',
  },
  idle: { timeout_s: 1800, remaining_s: 1200, action: 'destroy' },
  models: ['qwen2.5:0.5b'],
  cost: { currency: 'CHF', session: 0.04666, month: 1.25 },
}

export const ABSENT_STATUS: StatusObject = {
  state: 'absent',
  simulated: true,
  instance: null,
  idle: { timeout_s: 1800, remaining_s: null, action: 'destroy' },
  models: [],
  cost: { currency: 'CHF', session: null, month: null },
}

export interface FakeCall {
  method: 'status' | 'start' | 'stop' | 'destroy' | 'pull' | 'models'
  options: LifecycleOptions | StartOptions | undefined
  model?: string
}

export class FakeLifecycle implements Lifecycle {
  readonly calls: FakeCall[] = []
  closed = 0
  /** What status() answers (raw: it may be incomplete on purpose). */
  statusResult: Partial<StatusObject> = READY_STATUS
  /** What start/stop/destroy answer. */
  transitionResult: Partial<StatusObject> = READY_STATUS
  /** Progress reported by start/stop/destroy/pull before they answer. */
  progress: Progress[] = []
  /** Thrown by every method when set. */
  failure: Error | undefined
  models_: ModelInfo[] = [
    { name: 'qwen2.5:0.5b', size: 397_821_319, modified_at: '2026-01-15T11:05:00Z' },
  ]
  /** When set, start() waits for this before answering (to test interruption). */
  hold: Promise<void> | undefined

  async #step(method: FakeCall['method'], options?: LifecycleOptions, model?: string) {
    this.calls.push({ method, options, ...(model === undefined ? {} : { model }) })
    for (const p of this.progress) options?.onProgress?.(p)
    if (this.hold) await this.hold
    if (options?.signal?.aborted) throw new Error('aborted by the signal')
    if (this.failure) throw this.failure
  }

  async status(options?: LifecycleOptions): Promise<StatusObject> {
    this.calls.push({ method: 'status', options })
    if (this.failure) throw this.failure
    return this.statusResult as StatusObject
  }
  async start(options?: StartOptions): Promise<StatusObject> {
    await this.#step('start', options)
    return this.transitionResult as StatusObject
  }
  async stop(options?: LifecycleOptions): Promise<StatusObject> {
    await this.#step('stop', options)
    return this.transitionResult as StatusObject
  }
  async destroy(options?: LifecycleOptions): Promise<StatusObject> {
    await this.#step('destroy', options)
    return this.transitionResult as StatusObject
  }
  async pull(model: string, options?: LifecycleOptions): Promise<void> {
    await this.#step('pull', options, model)
  }
  async models(options?: LifecycleOptions): Promise<ModelInfo[]> {
    this.calls.push({ method: 'models', options })
    if (this.failure) throw this.failure
    return this.models_
  }
  async close(): Promise<void> {
    this.closed++
  }
}

/** Deps that hand out `lifecycle` and remember the config and context they were opened with. */
export function fakeDeps(
  lifecycle: FakeLifecycle,
  onOpen?: (config: Config, context: LifecycleContext) => void | Promise<void>,
): Partial<CliDeps> & { opened: Config[] } {
  const opened: Config[] = []
  return {
    opened,
    openLifecycle: async (config, context) => {
      opened.push(config)
      await onOpen?.(config, context)
      return lifecycle
    },
  }
}
