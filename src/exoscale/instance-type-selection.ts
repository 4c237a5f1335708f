import { ExoscaleError } from './errors.js'
import type { InstanceType } from './schema-types.js'

export interface InstanceTypeName {
  family: string
  size: string
}

/**
 * Parses `family.size` (e.g. `gpua5000.small`) or a bare `size` (family `standard`, as the exo
 * CLI and egoscale do). Case-insensitive; throws exoscale_bad_request for anything else.
 */
export function parseInstanceTypeName(name: string): InstanceTypeName {
  const text = name.trim().toLowerCase()
  const m = /^(?:([a-z0-9-]+)\.)?([a-z0-9-]+)$/.exec(text)
  if (!m) {
    throw new ExoscaleError(
      'exoscale_bad_request',
      `"${name}" is not an instance type: use family.size, e.g. standard.medium or gpua5000.small (EXOSCALE_INSTANCE_TYPE)`,
    )
  }
  return { family: m[1] ?? 'standard', size: m[2] as string }
}

/** `family.size` of a listed type. */
export function instanceTypeName(type: InstanceType): string {
  return `${type.family ?? '?'}.${type.size ?? '?'}`
}

/**
 * The type named `name` among `types` that is offered in `zone` (types whose `zones` list is
 * absent are taken as available). Throws exoscale_not_found listing what the zone offers. The
 * result's `authorized` says whether the organization may use it (GPU types often need a request).
 */
export function selectInstanceType(
  types: readonly InstanceType[],
  name: string,
  zone: string,
): InstanceType {
  const wanted = parseInstanceTypeName(name)
  const inZone = types.filter((t) => t.zones === undefined || t.zones.includes(zone as never))
  const found = inZone.find((t) => t.family === wanted.family && t.size === wanted.size)
  if (found) return found
  const elsewhere = types.find((t) => t.family === wanted.family && t.size === wanted.size)
  const available = [...new Set(inZone.map(instanceTypeName))].sort()
  const where = elsewhere?.zones?.length ? ` (it is offered in ${elsewhere.zones.join(', ')})` : ''
  throw new ExoscaleError(
    'exoscale_not_found',
    `instance type ${wanted.family}.${wanted.size} is not offered in zone ${zone}${where}: choose another EXOSCALE_INSTANCE_TYPE or EXOSCALE_ZONE; available here: ${available.join(', ') || 'none'}`,
  )
}
