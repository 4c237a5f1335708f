import type { Instance } from '../exoscale/index.js'
import type { InstanceInput, InstanceRecord, InstanceState, Intent } from '../store/index.js'
import { createdAtMs, type ListedInstance } from './cloud-instance.js'
import type { ProvisionerStatus } from './status.js'

/**
 * The store state that goes with an Exoscale instance state (for a freshly adopted record);
 * `unknown` for a state Exoscale did not give or that is new.
 */
export function recordStateFor(
  cloudState: Instance['state'],
  unknown: InstanceState = 'provisioning',
): InstanceState {
  switch (cloudState) {
    case 'starting':
      return 'provisioning'
    case 'running':
    case 'migrating':
      return 'booting'
    case 'stopped':
      return 'stopped'
    case 'stopping':
      return 'stopping'
    case 'destroying':
    case 'destroyed':
    case 'expunging':
      return 'destroying'
    case 'error':
      return 'error'
    default:
      return unknown
  }
}

/**
 * The instance record of an instance an intent produced: the intent carries the certificate and
 * secrets the user-data got, so the instance can be talked to even when its creator crashed.
 */
export function recordFromIntent(
  intent: Intent,
  instance: ListedInstance,
  now: number,
): InstanceInput {
  if (!intent.secrets || !intent.tlsCertPem) {
    throw new Error(`intent ${intent.id} holds no credentials; its instance cannot be adopted`)
  }
  return {
    name: intent.name,
    instanceId: instance.id,
    intentId: intent.id,
    zone: intent.zone,
    instanceType: intent.instanceType,
    template: intent.template,
    ip: instance['public-ip'] ?? null,
    state: recordStateFor(instance.state),
    createdAt: createdAtMs(instance, now),
    // The wake that made it began about when the intent was written.
    startedAt: intent.createdAt,
    tlsCertPem: intent.tlsCertPem,
    secrets: intent.secrets,
  }
}

/** A time as the status object shows it: ISO 8601, whole seconds, UTC. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** The status object's view of a recorded instance. */
export function recordView(record: InstanceRecord): NonNullable<ProvisionerStatus['instance']> {
  return {
    id: record.instanceId,
    name: record.name,
    zone: record.zone,
    type: record.instanceType,
    ip: record.ip,
    created_at: isoOf(record.createdAt),
  }
}
