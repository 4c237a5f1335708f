import type { InstanceTypeEntry, TemplateEntry } from './catalog.js'
import type { ZoneName } from './types.js'
import type {
  InstanceRecord,
  OperationRecord,
  RuleRecord,
  SecurityGroupRecord,
  SshKeyRecord,
  World,
} from './world.js'

/**
 * Records → the API's JSON shapes: kebab-case keys, references as `{id}`, optional fields
 * omitted rather than null. Every shape here is checked against the spec's response schemas
 * (closed: no field the spec does not define).
 */

type Obj = Record<string, unknown>

/** Drops undefined values so optional fields are absent, not null. */
function compact(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

export function renderOperation(op: OperationRecord): Obj {
  return compact({
    id: op.id,
    state: op.state,
    reason: op.reason,
    message: op.message,
    reference: compact({ ...op.reference }),
  })
}

/** An instance type as seen from `zone`: `authorized` says whether it can be created there. */
export function renderInstanceType(world: World, entry: InstanceTypeEntry, zone: ZoneName): Obj {
  return compact({
    id: entry.id,
    family: entry.family,
    size: entry.size,
    cpus: entry.cpus,
    gpus: entry.gpus,
    memory: entry.memory,
    authorized: world.authorized(entry, zone),
    zones: [...entry.zones],
  })
}

/** A template; like the real API, no `zones` field (the spec lists one, the API omits it). */
export function renderTemplate(t: TemplateEntry): Obj {
  return compact({
    id: t.id,
    name: t.name,
    description: t.description,
    family: t.family,
    'default-user': t.defaultUser,
    visibility: t.visibility,
    'boot-mode': t.bootMode,
    build: t.build,
    version: t.version,
    maintainer: t.maintainer,
    checksum: t.checksum,
    size: t.size,
    url: t.url,
    'created-at': t.createdAt,
    'password-enabled': false,
    'ssh-key-enabled': true,
    'application-consistent-snapshot-enabled': false,
  })
}

function renderSshKey(key: SshKeyRecord): Obj {
  return { name: key.name, fingerprint: key.fingerprint }
}

function commonInstanceFields(world: World, r: InstanceRecord): Obj {
  const sshKeys = r.sshKeyNames.map((name) => {
    const key = world.sshKeys().find((k) => k.name === name)
    return key ? renderSshKey(key) : { name }
  })
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    'created-at': r.createdAt,
    'instance-type': renderInstanceType(world, r.type, r.zone),
    template: renderTemplate(r.template),
    labels: { ...r.labels },
    'security-groups': r.securityGroupIds.map((id) => ({ id })),
    'private-networks': [],
    'ssh-key': sshKeys[0],
    'ssh-keys': sshKeys,
    'mac-address': r.macAddress,
    'public-ip-assignment': r.publicIpAssignment,
    'public-ip': r.publicIp,
    'ipv6-address': r.ipv6Address,
  }
}

/** get-instance: the full instance (no `zone` field: the zone is the endpoint's). */
export function renderInstance(world: World, r: InstanceRecord): Obj {
  return compact({
    ...commonInstanceFields(world, r),
    'disk-size': r.diskSize,
    'disk-encrypted': false,
    'user-data': r.userData,
    'elastic-ips': [],
    'anti-affinity-groups': [],
    snapshots: [],
    'secureboot-enabled': r.securebootEnabled,
    'tpm-enabled': r.tpmEnabled,
    'application-consistent-snapshot-enabled': r.appConsistentSnapshot,
  })
}

/** list-instances items: the spec's narrower list shape (no disk-size, no user-data). */
export function renderInstanceListItem(world: World, r: InstanceRecord): Obj {
  return compact(commonInstanceFields(world, r))
}

function renderRule(rule: RuleRecord): Obj {
  return compact({
    id: rule.id,
    'flow-direction': rule.flowDirection,
    protocol: rule.protocol,
    network: rule.network,
    'security-group': rule.securityGroup ? { ...rule.securityGroup } : undefined,
    'start-port': rule.startPort,
    'end-port': rule.endPort,
    icmp: rule.icmp ? compact({ ...rule.icmp }) : undefined,
    description: rule.description,
  })
}

export function renderSecurityGroup(sg: SecurityGroupRecord): Obj {
  return compact({
    id: sg.id,
    name: sg.name,
    description: sg.description,
    'external-sources': sg.externalSources.length > 0 ? [...sg.externalSources] : undefined,
    rules: sg.rules.map(renderRule),
  })
}

export { renderSshKey }
