import { createHash, randomInt } from 'node:crypto'
import type { Clock, Logger, Timer } from '../shared/index.js'
import { badRequest, conflict, notFound, quotaExceeded } from './api-error.js'
import {
  DEFAULT_QUOTA_LIMITS,
  GPU_FAMILIES,
  INSTANCE_TYPES,
  isGpuFamily,
  templatesFor,
  type InstanceTypeEntry,
  type TemplateEntry,
} from './catalog.js'
import type { FaultRegistry, FaultSubject } from './faults.js'
import { newUuid } from './ids.js'
import {
  ZONES,
  type InstanceEvent,
  type InstanceState,
  type InstanceView,
  type OperationReason,
  type OperationState,
  type OperationView,
  type PublicIpAssignment,
  type QuotaView,
  type SecurityGroupView,
  type ZoneName,
} from './types.js'

/**
 * The simulated organisation: zone-local instances and operations, org-global security groups
 * and SSH keys, quotas, and the timed state machines. HTTP-free: routes.ts maps requests here.
 *
 * Timing: a mutation answers a `pending` operation at once; the operation ends after
 * `operationDelayMs` (plus any slow-operation fault); instance transitions that follow an
 * operation (starting → running, stopping → stopped, destroying → gone) take a further
 * `instanceTransitionMs`, so operation success comes before the instance is running, as on the
 * real API. All timers go through the injected Clock.
 */

export interface InstanceRecord {
  id: string
  zone: ZoneName
  name: string
  state: InstanceState
  createdAt: string
  type: InstanceTypeEntry
  template: TemplateEntry
  diskSize: number
  userData: string | undefined
  labels: Record<string, string>
  securityGroupIds: string[]
  sshKeyNames: string[]
  publicIpAssignment: PublicIpAssignment
  publicIp: string | undefined
  ipv6Address: string | undefined
  macAddress: string
  deleteProtected: boolean
  securebootEnabled: boolean
  tpmEnabled: boolean
  appConsistentSnapshot: boolean
}

export interface RuleRecord {
  id: string
  flowDirection: 'ingress' | 'egress'
  protocol: string
  network: string | undefined
  securityGroup: { id: string; name: string } | undefined
  startPort: number | undefined
  endPort: number | undefined
  icmp: { type?: number; code?: number } | undefined
  description: string | undefined
}

export interface SecurityGroupRecord {
  id: string
  name: string
  description: string | undefined
  rules: RuleRecord[]
  externalSources: string[]
  visibility: 'private' | 'public'
}

export interface SshKeyRecord {
  name: string
  publicKey: string
  fingerprint: string
}

export type ReferenceKind = 'instance' | 'security-group' | 'ssh-key'

export interface OperationRecord {
  id: string
  zone: ZoneName
  operationId: string
  state: OperationState
  reason: OperationReason | undefined
  message: string | undefined
  reference: { id: string | undefined; link: string; command: string }
  /** Server clock when the operation ended; undefined while pending. */
  endedAt: number | undefined
}

export interface WorldOptions {
  clock: Clock
  logger: Logger
  faults: FaultRegistry
  operationDelayMs: number
  instanceTransitionMs: number
  /** How long a finished operation stays readable (the map must not grow forever). */
  operationRetentionMs: number
}

/** What a route hands to a mutation so faults can match it. */
export type Subject = FaultSubject

type FailureInfo = {
  state: 'failure' | 'timeout'
  reason: OperationReason
  message: string
  instanceState: 'error' | undefined
}

interface OperationPlan {
  zone: ZoneName
  subject: Subject
  reference: { kind: ReferenceKind; id: string }
  /** `family.size` when capacity for that type matters (create, start). */
  capacityType?: string | undefined
  onSuccess?: () => void
  onFailure?: (failure: FailureInfo) => void
}

/** Base64 as the API wants user-data: one line, standard alphabet, padded. */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const SCALE_COMPATIBLE = new Set(['standard', 'cpu', 'memory'])

export class World {
  readonly #o: WorldOptions
  readonly #instances = new Map<ZoneName, Map<string, InstanceRecord>>()
  readonly #operations = new Map<ZoneName, Map<string, OperationRecord>>()
  readonly #templates = new Map<ZoneName, TemplateEntry[]>()
  readonly #securityGroups = new Map<string, SecurityGroupRecord>()
  readonly #sshKeys = new Map<string, SshKeyRecord>()
  readonly #timers = new Set<Timer>()
  readonly #listeners = new Set<(event: InstanceEvent) => void>()
  // A random start: emulated VMs of simulators in parallel test processes listen on these
  // addresses (port 11435), so two simulators must not hand out the same ones.
  #ipCounter = randomInt(1, 0xff00)
  #ipsHanded = 0
  #macCounter = 1
  #closed = false

  constructor(options: WorldOptions) {
    this.#o = options
    for (const zone of ZONES) {
      this.#instances.set(zone, new Map())
      this.#operations.set(zone, new Map())
      this.#templates.set(zone, templatesFor(zone))
    }
    const publicSg: SecurityGroupRecord = {
      id: '7b6f4cba-1c3e-5d2a-9f10-3a2b1c0d9e8f',
      name: 'public-nlb-healthcheck-sources',
      description: 'Source addresses of Exoscale network load balancer health checks',
      rules: [],
      externalSources: ['194.182.160.0/24', '89.145.160.0/24'],
      visibility: 'public',
    }
    this.#securityGroups.set(publicSg.id, publicSg)
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Cancels every pending timer; operations stay where they are. */
  close(): void {
    this.#closed = true
    for (const t of this.#timers) t.cancel()
    this.#timers.clear()
  }

  onInstanceEvent(listener: (event: InstanceEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #after(ms: number, fn: () => void): void {
    if (this.#closed || !Number.isFinite(ms)) return
    const timer = this.#o.clock.setTimer(ms, () => {
      this.#timers.delete(timer)
      if (!this.#closed) fn()
    })
    this.#timers.add(timer)
  }

  #emit(type: InstanceEvent['type'], record: InstanceRecord, previousState?: InstanceState): void {
    const event: InstanceEvent = {
      type,
      zone: record.zone,
      instance: instanceView(record),
      ...(previousState === undefined ? {} : { previousState }),
    }
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (error) {
        this.#o.logger.error({ err: error }, 'simulator instance listener failed')
      }
    }
  }

  #setState(record: InstanceRecord, state: InstanceState): void {
    const previous = record.state
    if (previous === state) return
    record.state = state
    this.#emit('state', record, previous)
  }

  /** Moves `record` from `from` to `to` after `ms`, unless something else moved it meanwhile. */
  #transition(record: InstanceRecord, from: InstanceState, to: InstanceState, ms: number): void {
    this.#after(ms, () => {
      if (record.state === from && this.#liveInstance(record)) this.#setState(record, to)
    })
  }

  #liveInstance(record: InstanceRecord): boolean {
    return this.#instances.get(record.zone)?.get(record.id) === record
  }

  // ---- operations --------------------------------------------------------------------------

  #startOperation(plan: OperationPlan): OperationRecord {
    const { reference, zone } = plan
    const op: OperationRecord = {
      id: newUuid(),
      zone,
      operationId: plan.subject.operationId ?? 'unknown',
      state: 'pending',
      reason: undefined,
      message: undefined,
      reference: {
        id: reference.kind === 'ssh-key' ? undefined : reference.id,
        link: `/v2/${reference.kind}/${encodeURIComponent(reference.id)}`,
        command: `get-${reference.kind}`,
      },
      endedAt: undefined,
    }
    this.#pruneOperations(zone)
    this.#operations.get(zone)?.set(op.id, op)
    const faults = this.#o.faults.takeOperationFaults(plan.subject, plan.capacityType)
    let failure: FailureInfo | undefined
    if (faults.failure?.kind === 'capacity') {
      failure = {
        state: 'failure',
        reason: 'unavailable',
        message: `Insufficient capacity for ${plan.capacityType ?? faults.failure.instanceType} in ${zone}`,
        instanceState: undefined,
      }
    } else if (faults.failure?.kind === 'operation-failure') {
      const f = faults.failure
      failure = {
        state: f.state ?? 'failure',
        reason: f.reason ?? 'fault',
        message: f.message ?? 'Operation failed',
        instanceState: f.instanceState,
      }
    }
    this.#after(this.#o.operationDelayMs + faults.extraDelayMs, () => {
      op.endedAt = this.#o.clock.now()
      if (failure) {
        op.state = failure.state
        op.reason = failure.reason
        op.message = failure.message
        plan.onFailure?.(failure)
      } else {
        op.state = 'success'
        plan.onSuccess?.()
      }
    })
    return op
  }

  #pruneOperations(zone: ZoneName): void {
    const ops = this.#operations.get(zone)
    if (!ops) return
    const cutoff = this.#o.clock.now() - this.#o.operationRetentionMs
    for (const [id, op] of ops) {
      if (op.endedAt !== undefined && op.endedAt < cutoff) ops.delete(id)
    }
  }

  getOperation(zone: ZoneName, id: string): OperationRecord {
    const op = this.#operations.get(zone)?.get(id)
    if (!op) throw notFound(`Operation ${id} not found`)
    return op
  }

  // ---- catalog -----------------------------------------------------------------------------

  instanceTypes(): readonly InstanceTypeEntry[] {
    return INSTANCE_TYPES
  }

  instanceType(id: string): InstanceTypeEntry {
    const entry = INSTANCE_TYPES.find((t) => t.id === id)
    if (!entry) throw notFound(`Instance type ${id} not found`)
    return entry
  }

  /** Whether the organisation may create this type in this zone. */
  authorized(entry: InstanceTypeEntry, zone: ZoneName): boolean {
    if (!entry.zones.includes(zone)) return isGpuFamily(entry.family) ? false : true
    if (!isGpuFamily(entry.family)) return true
    return this.quotaLimit(entry.family) !== 0 && this.quotaLimit('gpu') !== 0
  }

  templates(zone: ZoneName): readonly TemplateEntry[] {
    return this.#templates.get(zone) ?? []
  }

  template(zone: ZoneName, id: string): TemplateEntry {
    const entry = this.templates(zone).find((t) => t.id === id)
    if (!entry) throw notFound(`Template ${id} not found`)
    return entry
  }

  // ---- quotas ------------------------------------------------------------------------------

  quotaLimit(resource: string): number {
    return this.#o.faults.quotaOverride(resource) ?? DEFAULT_QUOTA_LIMITS[resource] ?? 0
  }

  quotaUsage(resource: string): number {
    let usage = 0
    for (const record of this.#allInstances()) {
      if (resource === 'instance') usage += 1
      else if (resource === 'gpu') usage += record.type.gpus ?? 0
      else if (resource === record.type.family) usage += record.type.gpus ?? 0
    }
    return usage
  }

  quotas(): QuotaView[] {
    return Object.keys(DEFAULT_QUOTA_LIMITS).map((resource) => this.quota(resource))
  }

  quota(resource: string): QuotaView {
    if (!(resource in DEFAULT_QUOTA_LIMITS)) throw notFound(`Quota for ${resource} not found`)
    return { resource, usage: this.quotaUsage(resource), limit: this.quotaLimit(resource) }
  }

  #checkQuota(resource: string, adding: number): void {
    if (adding <= 0) return
    const limit = this.quotaLimit(resource)
    if (limit === -1) return
    if (this.quotaUsage(resource) + adding > limit) throw quotaExceeded(resource, limit)
  }

  #checkGpuQuotas(entry: InstanceTypeEntry, zone: ZoneName): void {
    if (!isGpuFamily(entry.family)) return
    if (!this.authorized(entry, zone)) {
      const resource = this.quotaLimit(entry.family) === 0 ? entry.family : 'gpu'
      throw quotaExceeded(resource, this.quotaLimit(resource))
    }
    this.#checkQuota('gpu', entry.gpus ?? 0)
    this.#checkQuota(entry.family, entry.gpus ?? 0)
  }

  // ---- instances ---------------------------------------------------------------------------

  *#allInstances(): Generator<InstanceRecord> {
    for (const zone of ZONES) yield* this.#instances.get(zone)?.values() ?? []
  }

  instances(zone?: ZoneName): InstanceRecord[] {
    if (zone) return [...(this.#instances.get(zone)?.values() ?? [])]
    return [...this.#allInstances()]
  }

  instance(zone: ZoneName, id: string): InstanceRecord {
    const record = this.#instances.get(zone)?.get(id)
    if (!record) throw notFound(`Instance ${id} not found`)
    return record
  }

  createInstance(zone: ZoneName, body: CreateInstanceBody, subject: Subject): OperationRecord {
    const template = this.template(zone, body.template.id)
    const type = this.instanceType(body['instance-type'].id)
    const typeName = `${type.family}.${type.size}`
    if (!type.zones.includes(zone)) {
      throw badRequest(`Instance type ${typeName} is not available in zone ${zone}`)
    }
    if (body['user-data'] !== undefined) checkUserData(body['user-data'])
    const securityGroupIds = (body['security-groups'] ?? []).map(
      (ref) => this.securityGroup(ref.id).id,
    )
    const sshKeyNames = [
      ...(body['ssh-key'] ? [body['ssh-key'].name] : []),
      ...(body['ssh-keys'] ?? []).map((ref) => ref.name),
    ].map((name) => this.sshKey(name).name)
    for (const ref of body['anti-affinity-groups'] ?? []) {
      throw notFound(`Anti-affinity group ${ref.id} not found`)
    }
    if (body['deploy-target']) throw notFound(`Deploy target ${body['deploy-target'].id} not found`)
    this.#checkGpuQuotas(type, zone)
    this.#checkQuota('instance', 1)

    const id = newUuid()
    const assignment = body['public-ip-assignment'] ?? 'inet4'
    const autoStart = body['auto-start'] ?? true
    const record: InstanceRecord = {
      id,
      zone,
      name: body.name ?? `instance-${id.slice(0, 8)}`,
      state: autoStart ? 'starting' : 'stopped',
      createdAt: new Date(this.#o.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      type,
      template,
      diskSize: body['disk-size'],
      userData: body['user-data'],
      labels: { ...(body.labels ?? {}) },
      securityGroupIds: [...new Set(securityGroupIds)],
      sshKeyNames: [...new Set(sshKeyNames)],
      publicIpAssignment: assignment,
      publicIp: assignment === 'none' ? undefined : this.#allocateIp(),
      ipv6Address: assignment === 'dual' || body['ipv6-enabled'] ? this.#allocateIpv6() : undefined,
      macAddress: this.#allocateMac(),
      deleteProtected: false,
      securebootEnabled: body['secureboot-enabled'] ?? false,
      tpmEnabled: body['tpm-enabled'] ?? false,
      appConsistentSnapshot: body['application-consistent-snapshot-enabled'] ?? false,
    }
    this.#instances.get(zone)?.set(id, record)
    this.#emit('created', record)
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      capacityType: autoStart ? typeName : undefined,
      onSuccess: () => {
        if (autoStart) this.#transition(record, 'starting', 'running', this.#o.instanceTransitionMs)
      },
      onFailure: (failure) => {
        if (!this.#liveInstance(record)) return
        if (failure.instanceState === 'error') this.#setState(record, 'error')
        else this.#remove(record)
      },
    })
  }

  #remove(record: InstanceRecord): void {
    if (!this.#liveInstance(record)) return
    const previous = record.state
    this.#instances.get(record.zone)?.delete(record.id)
    record.state = 'destroyed'
    this.#emit('removed', record, previous)
  }

  startInstance(zone: ZoneName, id: string, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    if (record.state !== 'stopped') {
      throw conflict(`Cannot start instance ${id}: it is ${record.state}, not stopped`)
    }
    this.#checkGpuQuotas(record.type, zone)
    this.#setState(record, 'starting')
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      capacityType: `${record.type.family}.${record.type.size}`,
      onSuccess: () =>
        this.#transition(record, 'starting', 'running', this.#o.instanceTransitionMs),
      onFailure: (failure) => this.#revert(record, 'starting', failure, 'stopped'),
    })
  }

  stopInstance(zone: ZoneName, id: string, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    if (record.state !== 'running') {
      throw conflict(`Cannot stop instance ${id}: it is ${record.state}, not running`)
    }
    this.#setState(record, 'stopping')
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      onSuccess: () =>
        this.#transition(record, 'stopping', 'stopped', this.#o.instanceTransitionMs),
      onFailure: (failure) => this.#revert(record, 'stopping', failure, 'running'),
    })
  }

  rebootInstance(zone: ZoneName, id: string, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    if (record.state !== 'running') {
      throw conflict(`Cannot reboot instance ${id}: it is ${record.state}, not running`)
    }
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      onSuccess: () => {
        if (this.#liveInstance(record) && record.state === 'running') this.#emit('rebooted', record)
      },
    })
  }

  deleteInstance(zone: ZoneName, id: string, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    if (record.deleteProtected) {
      throw conflict(`Cannot delete instance ${id}: it is protected against deletion`)
    }
    if (record.state === 'destroying' || record.state === 'expunging') {
      throw conflict(`Cannot delete instance ${id}: it is already ${record.state}`)
    }
    const previous = record.state
    this.#setState(record, 'destroying')
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      onSuccess: () =>
        this.#after(this.#o.instanceTransitionMs, () => {
          if (record.state === 'destroying') this.#remove(record)
        }),
      onFailure: (failure) => this.#revert(record, 'destroying', failure, previous),
    })
  }

  #revert(
    record: InstanceRecord,
    from: InstanceState,
    failure: FailureInfo,
    to: InstanceState,
  ): void {
    if (!this.#liveInstance(record) || record.state !== from) return
    this.#setState(record, failure.instanceState ?? to)
  }

  updateInstance(
    zone: ZoneName,
    id: string,
    body: UpdateInstanceBody,
    subject: Subject,
  ): OperationRecord {
    const record = this.instance(zone, id)
    if (body['user-data'] !== undefined) checkUserData(body['user-data'])
    if (body.name !== undefined) record.name = body.name
    if (body.labels !== undefined) record.labels = { ...(body.labels ?? {}) }
    if (body['user-data'] !== undefined) record.userData = body['user-data']
    if (body['application-consistent-snapshot-enabled'] !== undefined) {
      record.appConsistentSnapshot = body['application-consistent-snapshot-enabled']
    }
    const assignment = body['public-ip-assignment']
    if (assignment !== undefined && assignment !== record.publicIpAssignment) {
      record.publicIpAssignment = assignment
      if (assignment === 'none') record.publicIp = undefined
      else record.publicIp ??= this.#allocateIp()
      if (assignment === 'dual') record.ipv6Address ??= this.#allocateIpv6()
      else record.ipv6Address = undefined
    }
    this.#emit('updated', record)
    return this.#startOperation({ zone, subject, reference: { kind: 'instance', id } })
  }

  resetInstanceField(zone: ZoneName, id: string, field: string, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    if (field === 'labels') record.labels = {}
    this.#emit('updated', record)
    return this.#startOperation({ zone, subject, reference: { kind: 'instance', id } })
  }

  scaleInstance(zone: ZoneName, id: string, typeId: string, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    const type = this.instanceType(typeId)
    if (record.state !== 'stopped') {
      throw conflict(`Cannot scale instance ${id}: it is ${record.state}, not stopped`)
    }
    const sameFamily =
      type.family === record.type.family ||
      (SCALE_COMPATIBLE.has(type.family) && SCALE_COMPATIBLE.has(record.type.family))
    if (!sameFamily) {
      throw badRequest(
        `Cannot scale instance ${id} from family ${record.type.family} to ${type.family}`,
      )
    }
    if (!type.zones.includes(zone)) {
      throw badRequest(`Instance type ${type.family}.${type.size} is not available in zone ${zone}`)
    }
    if (isGpuFamily(type.family)) {
      const extra = (type.gpus ?? 0) - (record.type.gpus ?? 0)
      this.#checkQuota('gpu', extra)
      this.#checkQuota(type.family, extra)
    }
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      onSuccess: () => {
        if (!this.#liveInstance(record)) return
        record.type = type
        this.#emit('updated', record)
      },
    })
  }

  resizeInstanceDisk(
    zone: ZoneName,
    id: string,
    diskSize: number,
    subject: Subject,
  ): OperationRecord {
    const record = this.instance(zone, id)
    if (record.state !== 'stopped') {
      throw conflict(`Cannot resize the disk of instance ${id}: it is ${record.state}, not stopped`)
    }
    if (diskSize <= record.diskSize) {
      throw badRequest(
        `invalid body.disk-size: the disk can only grow (current ${record.diskSize} GiB)`,
      )
    }
    return this.#startOperation({
      zone,
      subject,
      reference: { kind: 'instance', id },
      onSuccess: () => {
        record.diskSize = diskSize
      },
    })
  }

  setProtection(zone: ZoneName, id: string, on: boolean, subject: Subject): OperationRecord {
    const record = this.instance(zone, id)
    record.deleteProtected = on
    return this.#startOperation({ zone, subject, reference: { kind: 'instance', id } })
  }

  /** Emulates a power-off from inside the VM (e.g. its watchdog): running → stopped, no API call. */
  powerOff(id: string): boolean {
    for (const record of this.#allInstances()) {
      if (record.id !== id) continue
      if (record.state !== 'running') return false
      this.#setState(record, 'stopped')
      return true
    }
    return false
  }

  #allocateIp(): string {
    for (;;) {
      if (++this.#ipsHanded > 0xfe00) throw new Error('simulator ran out of loopback addresses')
      const n = (this.#ipCounter = (this.#ipCounter % 0xffff) + 1)
      const hi = (n >> 8) & 0xff
      const lo = n & 0xff
      if (lo === 0 || lo === 255) continue
      return `127.10.${hi}.${lo}`
    }
  }

  #allocateIpv6(): string {
    return `2001:db8:10::${(this.#ipCounter + 0x1000).toString(16)}`
  }

  #allocateMac(): string {
    const n = this.#macCounter++
    const bytes = [0x06, 0xe1, (n >> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':')
  }

  // ---- security groups ---------------------------------------------------------------------

  securityGroups(visibility: 'private' | 'public' = 'private'): SecurityGroupRecord[] {
    return [...this.#securityGroups.values()].filter((sg) => sg.visibility === visibility)
  }

  securityGroup(id: string): SecurityGroupRecord {
    const sg = this.#securityGroups.get(id)
    if (!sg) throw notFound(`Security group ${id} not found`)
    return sg
  }

  createSecurityGroup(
    zone: ZoneName,
    body: { name: string; description?: string },
    subject: Subject,
  ): OperationRecord {
    if ([...this.#securityGroups.values()].some((sg) => sg.name === body.name)) {
      throw conflict(`A security group named ${body.name} already exists`)
    }
    const sg: SecurityGroupRecord = {
      id: newUuid(),
      name: body.name,
      description: body.description,
      rules: [],
      externalSources: [],
      visibility: 'private',
    }
    this.#securityGroups.set(sg.id, sg)
    return this.#startOperation({ zone, subject, reference: { kind: 'security-group', id: sg.id } })
  }

  deleteSecurityGroup(zone: ZoneName, id: string, subject: Subject): OperationRecord {
    const sg = this.#privateSecurityGroup(id)
    const user = [...this.#allInstances()].find((i) => i.securityGroupIds.includes(id))
    if (user) throw conflict(`Security group ${sg.name} is in use by instance ${user.id}`)
    const referrer = [...this.#securityGroups.values()].find((other) =>
      other.rules.some((r) => r.securityGroup?.id === id && other.id !== id),
    )
    if (referrer) throw conflict(`Security group ${sg.name} is referenced by ${referrer.name}`)
    this.#securityGroups.delete(id)
    return this.#startOperation({ zone, subject, reference: { kind: 'security-group', id } })
  }

  #privateSecurityGroup(id: string): SecurityGroupRecord {
    const sg = this.securityGroup(id)
    if (sg.visibility !== 'private') throw notFound(`Security group ${id} not found`)
    return sg
  }

  addSecurityGroupRule(
    zone: ZoneName,
    id: string,
    body: AddRuleBody,
    subject: Subject,
  ): OperationRecord {
    const sg = this.#privateSecurityGroup(id)
    const ports = body.protocol === 'tcp' || body.protocol === 'udp'
    if (ports && (body['start-port'] === undefined || body['end-port'] === undefined)) {
      throw badRequest(
        `invalid body: start-port and end-port are required for protocol ${body.protocol}`,
      )
    }
    if (!ports && (body['start-port'] !== undefined || body['end-port'] !== undefined)) {
      throw badRequest(`invalid body.start-port: ports apply to tcp and udp only`)
    }
    if (ports && (body['start-port'] ?? 0) > (body['end-port'] ?? 0)) {
      throw badRequest(`invalid body.end-port: must not be below start-port`)
    }
    if (body.icmp && body.protocol !== 'icmp' && body.protocol !== 'icmpv6') {
      throw badRequest(`invalid body.icmp: applies to icmp and icmpv6 only`)
    }
    if ((body.network === undefined) === (body['security-group'] === undefined)) {
      throw badRequest(`invalid body: exactly one of network and security-group is required`)
    }
    if (body.network !== undefined && !isCidr(body.network)) {
      throw badRequest(`invalid body.network: "${body.network}" is not a CIDR network`)
    }
    let peer: { id: string; name: string } | undefined
    const ref = body['security-group']
    if (ref) {
      const target = ref.id
        ? this.securityGroup(ref.id)
        : [...this.#securityGroups.values()].find(
            (sg2) => sg2.name === ref.name && sg2.visibility === (ref.visibility ?? 'private'),
          )
      if (!target) throw notFound(`Security group ${ref.name ?? ''} not found`)
      peer = { id: target.id, name: target.name }
    }
    const rule: RuleRecord = {
      id: newUuid(),
      flowDirection: body['flow-direction'],
      protocol: body.protocol,
      network: body.network,
      securityGroup: peer,
      startPort: body['start-port'],
      endPort: body['end-port'],
      icmp:
        body.protocol === 'icmp' || body.protocol === 'icmpv6'
          ? { type: body.icmp?.type ?? -1, code: body.icmp?.code ?? -1 }
          : undefined,
      description: body.description,
    }
    const key = (r: RuleRecord) =>
      JSON.stringify([
        r.flowDirection,
        r.protocol,
        r.network,
        r.securityGroup?.id,
        r.startPort,
        r.endPort,
        r.icmp,
      ])
    if (sg.rules.some((r) => key(r) === key(rule))) {
      throw conflict(`Security group ${sg.name} already has this rule`)
    }
    sg.rules.push(rule)
    return this.#startOperation({ zone, subject, reference: { kind: 'security-group', id } })
  }

  deleteSecurityGroupRule(
    zone: ZoneName,
    id: string,
    ruleId: string,
    subject: Subject,
  ): OperationRecord {
    const sg = this.#privateSecurityGroup(id)
    const index = sg.rules.findIndex((r) => r.id === ruleId)
    if (index < 0) throw notFound(`Security group rule ${ruleId} not found`)
    sg.rules.splice(index, 1)
    return this.#startOperation({ zone, subject, reference: { kind: 'security-group', id } })
  }

  attachSecurityGroup(
    zone: ZoneName,
    id: string,
    instanceId: string,
    attach: boolean,
    subject: Subject,
  ): OperationRecord {
    const sg = this.#privateSecurityGroup(id)
    const record = this.instance(zone, instanceId)
    const has = record.securityGroupIds.includes(sg.id)
    if (attach && has)
      throw conflict(`Instance ${instanceId} is already in security group ${sg.name}`)
    if (!attach && !has)
      throw conflict(`Instance ${instanceId} is not in security group ${sg.name}`)
    record.securityGroupIds = attach
      ? [...record.securityGroupIds, sg.id]
      : record.securityGroupIds.filter((s) => s !== sg.id)
    this.#emit('updated', record)
    return this.#startOperation({ zone, subject, reference: { kind: 'security-group', id } })
  }

  externalSource(
    zone: ZoneName,
    id: string,
    cidr: string,
    add: boolean,
    subject: Subject,
  ): OperationRecord {
    const sg = this.#privateSecurityGroup(id)
    if (!isCidr(cidr)) throw badRequest(`invalid body.cidr: "${cidr}" is not a CIDR network`)
    if (add && !sg.externalSources.includes(cidr)) sg.externalSources.push(cidr)
    if (!add) {
      if (!sg.externalSources.includes(cidr)) throw notFound(`External source ${cidr} not found`)
      sg.externalSources = sg.externalSources.filter((c) => c !== cidr)
    }
    return this.#startOperation({ zone, subject, reference: { kind: 'security-group', id } })
  }

  // ---- SSH keys ----------------------------------------------------------------------------

  sshKeys(): SshKeyRecord[] {
    return [...this.#sshKeys.values()]
  }

  sshKey(name: string): SshKeyRecord {
    const key = this.#sshKeys.get(name)
    if (!key) throw notFound(`SSH key ${name} not found`)
    return key
  }

  registerSshKey(
    zone: ZoneName,
    name: string,
    publicKey: string,
    subject: Subject,
  ): OperationRecord {
    if (this.#sshKeys.has(name)) throw conflict(`An SSH key named ${name} already exists`)
    const blob =
      /^(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/.exec(
        publicKey.trim(),
      )?.[1]
    if (!blob) throw badRequest('invalid body.public-key: not an OpenSSH public key')
    const md5 = createHash('md5').update(Buffer.from(blob, 'base64')).digest('hex')
    const fingerprint = md5.match(/../g)?.join(':') ?? md5
    this.#sshKeys.set(name, { name, publicKey: publicKey.trim(), fingerprint })
    return this.#startOperation({ zone, subject, reference: { kind: 'ssh-key', id: name } })
  }

  deleteSshKey(zone: ZoneName, name: string, subject: Subject): OperationRecord {
    this.sshKey(name)
    this.#sshKeys.delete(name)
    return this.#startOperation({ zone, subject, reference: { kind: 'ssh-key', id: name } })
  }

  // ---- views for sim.state -----------------------------------------------------------------

  operationViews(zone?: ZoneName): OperationView[] {
    const zones = zone ? [zone] : ZONES
    return zones.flatMap((z) => [...(this.#operations.get(z)?.values() ?? [])]).map(operationView)
  }

  securityGroupViews(): SecurityGroupView[] {
    return this.securityGroups('private').map((sg) => ({
      id: sg.id,
      name: sg.name,
      description: sg.description,
      rules: sg.rules.map((r) => ({
        id: r.id,
        flowDirection: r.flowDirection,
        protocol: r.protocol,
        network: r.network,
        securityGroupId: r.securityGroup?.id,
        startPort: r.startPort,
        endPort: r.endPort,
        description: r.description,
      })),
    }))
  }

  /** For phase 2 and tests: GPU family names the catalog knows. */
  static readonly gpuFamilies = GPU_FAMILIES
}

export function instanceView(record: InstanceRecord): InstanceView {
  return {
    id: record.id,
    zone: record.zone,
    name: record.name,
    state: record.state,
    createdAt: record.createdAt,
    instanceType: `${record.type.family}.${record.type.size}`,
    instanceTypeId: record.type.id,
    templateId: record.template.id,
    diskSize: record.diskSize,
    userData: record.userData,
    labels: { ...record.labels },
    securityGroupIds: [...record.securityGroupIds],
    sshKeys: [...record.sshKeyNames],
    publicIp: record.publicIp,
    publicIpAssignment: record.publicIpAssignment,
    deleteProtected: record.deleteProtected,
  }
}

function operationView(op: OperationRecord): OperationView {
  return {
    id: op.id,
    zone: op.zone,
    operationId: op.operationId,
    state: op.state,
    reason: op.reason,
    message: op.message,
    referenceId: op.reference.id ?? op.reference.link,
  }
}

/** user-data: one line of padded standard base64 (the schema already bounds the length). */
export function checkUserData(value: string): void {
  if (!BASE64_RE.test(value)) {
    throw badRequest('invalid body.user-data: must be one line of padded base64')
  }
}

export function isCidr(value: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value)
  if (v4) {
    return v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32
  }
  const v6 = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(value)
  return !!v6 && v6[1]?.includes(':') === true && Number(v6[2]) <= 128
}

// ---- request bodies (already validated against the spec) ------------------------------------

interface IdRef {
  id: string
}

export interface CreateInstanceBody {
  name?: string
  'instance-type': IdRef
  template: IdRef
  'disk-size': number
  'user-data'?: string
  labels?: Record<string, string>
  'security-groups'?: IdRef[]
  'anti-affinity-groups'?: IdRef[]
  'ssh-key'?: { name: string }
  'ssh-keys'?: { name: string }[]
  'public-ip-assignment'?: PublicIpAssignment
  'ipv6-enabled'?: boolean
  'auto-start'?: boolean
  'deploy-target'?: IdRef
  'secureboot-enabled'?: boolean
  'tpm-enabled'?: boolean
  'application-consistent-snapshot-enabled'?: boolean
}

export interface UpdateInstanceBody {
  name?: string
  'user-data'?: string
  labels?: Record<string, string> | null
  'public-ip-assignment'?: PublicIpAssignment
  'application-consistent-snapshot-enabled'?: boolean
}

export interface AddRuleBody {
  'flow-direction': 'ingress' | 'egress'
  protocol: string
  network?: string
  'security-group'?: { id?: string; name?: string; visibility?: 'private' | 'public' }
  'start-port'?: number
  'end-port'?: number
  icmp?: { type?: number | null; code?: number | null }
  description?: string
}
