import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createExoscaleClient, type ExoscaleClient } from '../../../src/exoscale/index.js'
import {
  createProvisioner,
  DEFAULT_PROVISIONER_SETTINGS,
  type CreateProvisionerOptions,
  type Provisioner,
  type ProvisionerSettings,
  type ProvisionerTuning,
} from '../../../src/provisioner/index.js'
import type { ManualClock } from '../../../src/shared/index.js'
import { Secret, systemClock, type Clock, type Logger } from '../../../src/shared/index.js'
import { startSimulator, type Simulator, type VmOptions } from '../../../src/simulator/index.js'
import { openStore, type LifecycleEvent, type Store } from '../../../src/store/index.js'
import { startFakeVms, type FakeVmBehavior, type FakeVms } from './fake-vm.js'

/** Secrets that must never show up in events, errors or logs. */
export const CANARY_API_SECRET = 'CANARYapiSECRET0123456789abcdefghijklmnopq'
export const CANARY_OLLAMA_KEY = 'CANARYollamaKEY0123456789abcdefXYZ'

/** Timing knobs small enough for tests on a real clock. */
export const FAST_TUNING: Partial<ProvisionerTuning> = {
  leasePollMs: 20,
  bootPollInitialMs: 10,
  bootPollMaxMs: 40,
  probeTimeoutMs: 3_000,
  ambiguousCreateChecksMs: [30, 60],
  transientRetryMs: 20,
  mutationTimeoutMs: 20_000,
}

/**
 * Emulated boot steps long enough for a status poll (capped at 40 ms here) to see each one, short
 * enough for a cold start well under a second.
 */
export const FAST_PHASES = {
  firstWrite: 60,
  booting: 60,
  packages: 60,
  docker: 60,
  'gpu-driver': 60,
  reboot: 60,
  'image-pull': 60,
  'ollama-start': 60,
  health: 60,
  preload: 60,
}

export const TEST_SETTINGS: ProvisionerSettings = {
  ...DEFAULT_PROVISIONER_SETTINGS,
  models: ['qwen2.5:0.5b'],
  wakeTimeoutS: 60,
}

export interface Harness {
  sim: Simulator
  client: ExoscaleClient
  dataDir: string
  store: Store
  /**
   * The scripted stand-in VMs, only with `fakeVm` (the simulator's own emulated VMs are then off).
   * Throws otherwise.
   */
  readonly vms: FakeVms
  /** Where the provisioner reaches an instance: the emulated VM's 11435, or the fake VM. */
  origin: (ip: string) => string
  /** The fake VMs' port (undefined with the emulated VMs, which listen on 11435). */
  vmPort: number | undefined
  /** Builds a provisioner on the shared store (background loop off unless asked). */
  provisioner(options?: Partial<CreateProvisionerOptions>): Provisioner
  /** A client with other credentials or clock. */
  makeClient(options?: { clock?: Clock; apiSecret?: string; apiKey?: string }): ExoscaleClient
  events(): LifecycleEvent[]
  /** Requests of one API operation the simulator received. */
  calls(operationId: string): number
  close(): Promise<void>
}

export interface HarnessOptions {
  /**
   * Use the scripted fake VM (behaviours the emulated VM cannot show: refusing connections for
   * a while, a failing pull, …) instead of the simulator's emulated VM.
   */
  fakeVm?: Partial<FakeVmBehavior>
  /** Options of the simulator's emulated VMs (default: fast boot phases, no watchdog). */
  vm?: VmOptions
  /** Simulator delays (real ms). */
  operationDelayMs?: number
  instanceTransitionMs?: number
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const fake = options.fakeVm !== undefined
  const sim = await startSimulator({
    credentials: [{ key: 'EXOtestkey0123456789', secret: CANARY_API_SECRET }],
    operationDelayMs: options.operationDelayMs ?? 10,
    instanceTransitionMs: options.instanceTransitionMs ?? 20,
    vm: fake ? { enabled: false } : { phaseMs: FAST_PHASES, watchdog: false, ...options.vm },
  })
  const makeClient = (o: { clock?: Clock; apiSecret?: string; apiKey?: string } = {}) =>
    createExoscaleClient({
      apiKey: o.apiKey ?? sim.credentials.key,
      apiSecret: new Secret(o.apiSecret ?? sim.credentials.secret),
      zone: 'ch-gva-2',
      endpoint: sim.endpoint,
      clock: o.clock ?? systemClock,
      pollIntervalMs: 10,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
    })
  const client = makeClient()
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'exollama-prov-'))
  const store = openStore({ dataDir })
  const vms = fake ? await startFakeVms(sim, options.fakeVm) : undefined
  const origin = vms ? vms.origin : (ip: string) => `https://${ip}:11435`
  const provisioners: Provisioner[] = []
  return {
    sim,
    client,
    dataDir,
    store,
    get vms(): FakeVms {
      if (!vms) throw new Error('this harness runs the emulated VMs; pass fakeVm for the fake')
      return vms
    },
    origin,
    vmPort: vms?.port,
    makeClient,
    provisioner(o = {}) {
      const p = createProvisioner({
        settings: TEST_SETTINGS,
        client,
        store,
        background: false,
        instanceOrigin: origin,
        tuning: FAST_TUNING,
        ...o,
      })
      provisioners.push(p)
      return p
    },
    events: () => [...store.events.list({ limit: 1000 }).events],
    calls: (operationId) => sim.requests.filter((r) => r.operationId === operationId).length,
    async close() {
      for (const p of provisioners) await p.close()
      await vms?.close()
      await sim.close()
      store.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Live (not being deleted) instances in the simulator. */
export function liveInstances(sim: Simulator) {
  return sim.state.instances().filter((i) => !['destroying', 'destroyed'].includes(i.state))
}

/** A logger that keeps every line (to search for secrets). */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const make = (bindings: Record<string, unknown>): Logger => {
    const log =
      (level: string) =>
      (objOrMsg: unknown, msg?: string): void => {
        lines.push(JSON.stringify({ level, ...bindings, obj: serialise(objOrMsg), msg }))
      }
    return {
      trace: log('trace'),
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (more) => make({ ...bindings, ...more }),
    }
  }
  return { logger: make({}), lines }
}

function serialise(value: unknown): unknown {
  if (value instanceof Error)
    return { message: value.message, stack: value.stack, cause: String(value.cause) }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = serialise(v)
    return out
  }
  return value
}

/** Polls `predicate` on real time (for conditions in other processes or the simulator). */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const start = Date.now()
  for (;;) {
    if (await predicate()) return
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * Moves a ManualClock in small steps while real time passes for the simulator and the fake VMs,
 * until `promise` settles (or `until()` holds). Timers on the manual clock fire at their deadline.
 */
export async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  options: { stepMs?: number; until?: () => boolean } = {},
): Promise<T | undefined> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  const started = Date.now()
  while (!settled && !(options.until?.() ?? false)) {
    if (Date.now() - started > 30_000) throw new Error('drive: nothing happened in 30 s')
    await clock.advance(options.stepMs ?? 50)
    await new Promise((r) => setTimeout(r, 2))
  }
  return settled ? promise : undefined
}
