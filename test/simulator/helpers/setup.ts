import { ManualClock } from '../../../src/shared/index.js'
import {
  startSimulator,
  type Simulator,
  type SimulatorOptions,
  type ZoneName,
} from '../../../src/simulator/index.js'
import { call, type ApiResponse, type ApiTarget, type CallOptions } from './api.js'

export const OP_DELAY = 1_000
export const TRANSITION = 5_000

export interface SimHarness {
  sim: Simulator
  clock: ManualClock
  /** The default-zone target (ch-gva-2 through /v2). */
  target: ApiTarget
  /** A target for one zone (through the /<zone>/v2 prefix). */
  zone(zone: ZoneName): ApiTarget
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>
}

/** A simulator on a ManualClock with long, distinct delays, so tests step through states. */
export async function startHarness(options: SimulatorOptions = {}): Promise<SimHarness> {
  const clock = new ManualClock()
  const sim = await startSimulator({
    clock,
    operationDelayMs: OP_DELAY,
    instanceTransitionMs: TRANSITION,
    ...options,
  })
  const target: ApiTarget = { endpoint: sim.endpoint, credentials: sim.credentials, clock }
  return {
    sim,
    clock,
    target,
    zone: (zone) => ({ endpoint: sim.endpointFor(zone), credentials: sim.credentials, clock }),
    call: (method, path, opts) => call(target, method, path, opts),
  }
}

/** The id of `family.size` from the zone's instance-type list. */
export async function typeId(target: ApiTarget, name: string): Promise<string> {
  const res = await call(target, 'GET', '/instance-type')
  const [family, size] = name.split('.')
  const found = (res.json['instance-types'] as { id: string; family: string; size: string }[]).find(
    (t) => t.family === family && t.size === size,
  )
  if (!found) throw new Error(`no instance type ${name}`)
  return found.id
}

/** The id of the newest public template with this name in the target's zone. */
export async function templateId(
  target: ApiTarget,
  name = 'Linux Ubuntu 22.04 LTS 64-bit',
): Promise<string> {
  const res = await call(target, 'GET', '/template', { query: { visibility: 'public' } })
  const matches = (res.json.templates as { id: string; name: string; 'created-at': string }[])
    .filter((t) => t.name === name)
    .sort((a, b) => b['created-at'].localeCompare(a['created-at']))
  if (!matches[0]) throw new Error(`no template ${name}`)
  return matches[0].id
}

export const USER_DATA = Buffer.from('#cloud-config\npackages: [nginx]\n').toString('base64')

/** A valid create-instance body for the target's zone. */
export async function createBody(
  target: ApiTarget,
  overrides: Record<string, unknown> = {},
  type = 'standard.medium',
): Promise<Record<string, unknown>> {
  return {
    name: 'exollama',
    'instance-type': { id: await typeId(target, type) },
    template: { id: await templateId(target) },
    'disk-size': 50,
    'user-data': USER_DATA,
    labels: { 'managed-by': 'exollama', 'exollama-name': 'exollama' },
    ...overrides,
  }
}

/** Creates an instance and returns the create answer (an operation). */
export async function createInstance(
  target: ApiTarget,
  overrides: Record<string, unknown> = {},
  type?: string,
): Promise<ApiResponse> {
  return call(target, 'POST', '/instance', { body: await createBody(target, overrides, type) })
}
