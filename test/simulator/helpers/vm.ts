import { Ollama } from 'ollama'
import { fetch as undiciFetch, request, type Dispatcher } from 'undici'
import {
  buildUserData,
  generateInstanceCredentials,
  type InstanceCredentials,
  type RecipeSettings,
} from '../../../src/recipe/index.js'
import type { ManualClock } from '../../../src/shared/index.js'
import { createPinnedAgent, systemClock, type Clock } from '../../../src/shared/index.js'
import {
  startSimulator,
  type Simulator,
  type SimulatorOptions,
  type VmInfo,
} from '../../../src/simulator/index.js'
import { call, type ApiTarget } from './api.js'
import { createInstance } from './setup.js'

/** Short boot steps for tests on the system clock (real nginx needs real time for its I/O). */
export const FAST_PHASES = {
  firstWrite: 10,
  booting: 10,
  packages: 10,
  docker: 10,
  'gpu-driver': 10,
  reboot: 10,
  'image-pull': 10,
  'ollama-start': 10,
  health: 10,
  preload: 10,
} as const

export interface VmSim {
  sim: Simulator
  clock: Clock
  target: ApiTarget
}

/** A simulator on the system clock with fast operations and boots. */
export async function startVmSim(options: SimulatorOptions = {}): Promise<VmSim> {
  const sim = await startSimulator({
    operationDelayMs: 10,
    instanceTransitionMs: 10,
    ...options,
    vm: { phaseMs: FAST_PHASES, watchdog: false, ...options.vm },
  })
  const clock = options.clock ?? systemClock
  return { sim, clock, target: { endpoint: sim.endpoint, credentials: sim.credentials, clock } }
}

export interface Recipe {
  creds: InstanceCredentials
  key: string
  userData: string
  cloudConfig: string
}

/** Real user-data from the recipe, with fresh credentials. */
export async function recipe(overrides: Partial<RecipeSettings> = {}): Promise<Recipe> {
  const creds = await generateInstanceCredentials()
  const { userData, cloudConfig } = buildUserData({
    name: 'vm-test',
    ollamaKey: creds.ollamaKey,
    tls: { certPem: creds.certPem, keyPem: creds.keyPem },
    gpu: false,
    idleTimeoutS: 1800,
    maxLifetimeS: 86_400,
    ...overrides,
  })
  return { creds, key: creds.ollamaKey.reveal(), userData, cloudConfig }
}

/** Creates an instance through the signed API with this user-data; returns its id. */
export async function createWith(
  target: ApiTarget,
  userData: string,
  type?: string,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const res = await createInstance(target, { 'user-data': userData, ...overrides }, type)
  if (res.status !== 200) throw new Error(`create failed: ${res.status} ${res.text}`)
  return res.json.reference.id as string
}

/** PUT /instance/{id}:<action> through the signed API. */
export async function instanceAction(
  target: ApiTarget,
  id: string,
  action: 'start' | 'stop' | 'reboot',
): Promise<void> {
  const res = await call(target, 'PUT', `/instance/${id}:${action}`, {
    ...(action === 'start' ? { body: {} } : {}),
  })
  if (res.status !== 200) throw new Error(`${action} failed: ${res.status} ${res.text}`)
}

export async function destroy(target: ApiTarget, id: string): Promise<void> {
  const res = await call(target, 'DELETE', `/instance/${id}`)
  if (res.status !== 200) throw new Error(`delete failed: ${res.status} ${res.text}`)
}

/** Ready in the current boot (a stopped VM's disk still says `ready` from the last one). */
export const isReady = (vm: VmInfo) =>
  vm.bootStatus?.state === 'ready' && vm.statusBoot === vm.boots && vm.power === 'on'

/** What a gateway has: the pinned agent and the key. */
export interface InstanceClient {
  agent: Dispatcher & { close(): Promise<void> }
  origin: string
  key: string
  get(path: string, headers?: Record<string, string>): ReturnType<typeof request>
  post(path: string, body: unknown, headers?: Record<string, string>): ReturnType<typeof request>
  /** The official ollama client through the pinned agent, with the key header. */
  ollama(headers?: Record<string, string>): Ollama
  close(): Promise<void>
}

export function instanceClient(vm: VmInfo, r: Recipe): InstanceClient {
  if (!vm.origin) throw new Error('the VM has no origin')
  const origin = vm.origin
  const agent = createPinnedAgent({ certPem: r.creds.certPem })
  return {
    agent,
    origin,
    key: r.key,
    get: (path, headers = { 'x-ollama-key': r.key }) =>
      request(`${origin}${path}`, { dispatcher: agent, headers }),
    post: (path, body, headers = { 'x-ollama-key': r.key }) =>
      request(`${origin}${path}`, {
        dispatcher: agent,
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      }),
    ollama: (headers = { 'X-Ollama-Key': r.key }) =>
      new Ollama({
        host: origin,
        headers,
        // undici's fetch with the pinned dispatcher; its types differ from the DOM fetch type
        // only in the dispatcher option, hence the cast.
        fetch: ((input: string, init?: RequestInit) =>
          undiciFetch(input, {
            ...(init as object),
            dispatcher: agent,
          })) as unknown as typeof fetch,
      }),
    close: () => agent.close(),
  }
}

/** The error a request ends with (undefined when it succeeded). */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

/** The error code anywhere in an undici error's cause chain (ECONNREFUSED, …). */
export function causeCode(error: unknown): string | undefined {
  let e: unknown = error
  for (let i = 0; i < 5 && e; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Drives a ManualClock until `done` holds: advances in steps and lets real I/O (nginx, file
 * writes) catch up between steps by waiting for the VM's next event or a short real pause.
 */
export async function driveUntil(
  sim: Simulator,
  clock: ManualClock,
  id: string,
  done: (vm: VmInfo) => boolean,
  stepMs = 50,
): Promise<VmInfo> {
  // A guard for a useful message instead of a test timeout, not an assertion on speed.
  const giveUpAt = Date.now() + 20_000
  while (Date.now() < giveUpAt) {
    const vm = sim.vm.get(id)
    if (vm && done(vm)) return vm
    await clock.advance(stepMs)
    await new Promise((r) => setTimeout(r, 2))
  }
  const vm = sim.vm.get(id)
  throw new Error(
    `driveUntil: the condition never held; the VM: ${JSON.stringify({
      power: vm?.power,
      boots: vm?.boots,
      proxy: vm?.proxy,
      status: vm?.bootStatus,
      setupError: vm?.setupError,
    })}`,
  )
}
