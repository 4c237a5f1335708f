/** The zones of the spec's `zone-name` enum. */
export const ZONES = [
  'at-vie-1',
  'at-vie-2',
  'bg-sof-1',
  'ch-dk-2',
  'ch-gva-2',
  'de-fra-1',
  'de-muc-1',
  'hr-zag-1',
] as const

export type ZoneName = (typeof ZONES)[number]

/** The zone an endpoint without a zone prefix serves (the spec's server default). */
export const DEFAULT_ZONE: ZoneName = 'ch-gva-2'

export function isZoneName(value: string): value is ZoneName {
  return (ZONES as readonly string[]).includes(value)
}

export type InstanceState =
  | 'starting'
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'destroying'
  | 'destroyed'
  | 'error'
  | 'expunging'
  | 'migrating'

export type OperationState = 'pending' | 'success' | 'failure' | 'timeout'

export type OperationReason =
  | 'busy'
  | 'conflict'
  | 'fault'
  | 'forbidden'
  | 'incorrect'
  | 'interrupted'
  | 'not-found'
  | 'partial'
  | 'unavailable'
  | 'unknown'
  | 'unsupported'

export type PublicIpAssignment = 'inet4' | 'dual' | 'none'

/** An API key the simulator accepts. */
export interface SimulatorCredentials {
  key: string
  secret: string
}

/** A read-only snapshot of a simulated instance (`zone` is ours: the API has no such field). */
export interface InstanceView {
  id: string
  zone: ZoneName
  name: string
  state: InstanceState
  createdAt: string
  instanceType: string
  instanceTypeId: string
  templateId: string
  diskSize: number
  /** base64 exactly as the client sent it. */
  userData: string | undefined
  labels: Record<string, string>
  securityGroupIds: string[]
  sshKeys: string[]
  publicIp: string | undefined
  publicIpAssignment: PublicIpAssignment
  deleteProtected: boolean
}

/** A read-only snapshot of an operation. */
export interface OperationView {
  id: string
  zone: ZoneName
  /** The API operation that started it, e.g. `create-instance`. */
  operationId: string
  state: OperationState
  reason: OperationReason | undefined
  message: string | undefined
  referenceId: string
}

export interface SecurityGroupRuleView {
  id: string
  flowDirection: 'ingress' | 'egress'
  protocol: string
  network: string | undefined
  securityGroupId: string | undefined
  startPort: number | undefined
  endPort: number | undefined
  description: string | undefined
}

export interface SecurityGroupView {
  id: string
  name: string
  description: string | undefined
  rules: SecurityGroupRuleView[]
}

export interface QuotaView {
  resource: string
  usage: number
  limit: number
}

/** What happened to an instance; phase 2's emulated VM listens to these. */
export interface InstanceEvent {
  type: 'created' | 'state' | 'rebooted' | 'updated' | 'removed'
  zone: ZoneName
  instance: InstanceView
  previousState?: InstanceState
}
