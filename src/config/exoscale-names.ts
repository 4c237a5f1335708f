/**
 * Names the Exoscale API accepts, copied from spec/exoscale-openapi-v2.json (`zone-name` and the
 * `instance-type` family and size enums). exoscale-names.test.ts checks they still match the spec.
 */
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

export type Zone = (typeof ZONES)[number]

export const INSTANCE_FAMILIES = [
  'colossus',
  'cpu',
  'gpu',
  'gpu2',
  'gpu3',
  'gpu3080ti',
  'gpua30',
  'gpua5000',
  'gpub300',
  'gpurtx6000pro',
  'memory',
  'standard',
  'storage',
] as const

export type InstanceFamily = (typeof INSTANCE_FAMILIES)[number]

export const INSTANCE_SIZES = [
  'colossus',
  'extra-large',
  'huge',
  'jumbo',
  'large',
  'medium',
  'mega',
  'micro',
  'small',
  'tiny',
  'titan',
  'titan48c',
] as const

export type InstanceSize = (typeof INSTANCE_SIZES)[number]

export function isZone(value: string): value is Zone {
  return (ZONES as readonly string[]).includes(value)
}

/**
 * Canonical `family.size` for an instance type, or undefined when it is not one. A bare size
 * ("medium") means the standard family, as in the exo CLI.
 */
export function canonicalInstanceType(input: string): string | undefined {
  const text = input.trim().toLowerCase()
  const dot = text.indexOf('.')
  const family = dot < 0 ? 'standard' : text.slice(0, dot)
  const size = dot < 0 ? text : text.slice(dot + 1)
  if (!(INSTANCE_FAMILIES as readonly string[]).includes(family)) return undefined
  if (!(INSTANCE_SIZES as readonly string[]).includes(size)) return undefined
  return `${family}.${size}`
}

/** Whether the family has GPUs (the recipe installs drivers, boots take longer). */
export function isGpuInstanceType(type: string): boolean {
  return type.startsWith('gpu')
}
