import {
  instanceTypeName,
  selectInstanceType,
  type ExoscaleClient,
  type InstanceType,
  type Template,
} from '../exoscale/index.js'
import { isGpuInstanceType, ubuntuReleaseForTemplate, type UbuntuRelease } from '../recipe/index.js'
import { ProvisionerError } from './errors.js'
import type { ProvisionerSettings } from './settings.js'

const GiB = 1024 ** 3
/** Exoscale's disk limits (create-instance `disk-size`). */
export const MIN_DISK_GIB = 10
export const MAX_DISK_GIB = 51_200

/** Everything a create needs from the cloud's catalog, resolved and checked. */
export interface CreatePlan {
  readonly zone: string
  readonly instanceType: InstanceType & { id: string }
  /** `family.size` as the API spells it. */
  readonly instanceTypeName: string
  readonly template: Template & { id: string; name: string }
  readonly diskSizeGiB: number
  readonly ubuntu: UbuntuRelease
  readonly gpu: boolean
}

/** The smallest disk (GiB) a template fits on: its image size, rounded up. */
export function templateMinDiskGiB(template: Pick<Template, 'size'>): number {
  const size = template.size
  if (size === undefined || !Number.isFinite(size) || size <= 0) return MIN_DISK_GIB
  return Math.max(MIN_DISK_GIB, Math.ceil(size / GiB))
}

/**
 * Resolves the zone, instance type, template and disk size of a new instance, turning each bad
 * input into one error that names the setting to change and the values that exist.
 */
export async function resolveCreatePlan(
  client: ExoscaleClient,
  settings: ProvisionerSettings,
  signal?: AbortSignal,
): Promise<CreatePlan> {
  const zones = await client.listZones({ signal })
  const zoneNames = zones.map((z) => z.name).filter((n): n is NonNullable<typeof n> => !!n)
  if (zoneNames.length > 0 && !zoneNames.includes(settings.zone as never)) {
    throw new ProvisionerError(
      'unknown_zone',
      `zone ${settings.zone} does not exist: set EXOSCALE_ZONE to one of ${[...zoneNames].sort().join(', ')}`,
      { kind: 'config' },
    )
  }

  const types = await client.listInstanceTypes({ signal })
  // Throws exoscale_not_found listing the zone's types, or exoscale_bad_request for a bad name.
  const type = selectInstanceType(types, settings.instanceType, settings.zone)
  const typeName = instanceTypeName(type)
  if (type.authorized === false) {
    const usable = types
      .filter((t) => t.authorized !== false)
      .filter((t) => t.zones === undefined || t.zones.includes(settings.zone as never))
      .map(instanceTypeName)
    throw new ProvisionerError(
      'instance_type_not_authorized',
      `your organization may not use instance type ${typeName} in ${settings.zone} (GPU types need a quota request in the Exoscale portal): request access, or set EXOSCALE_INSTANCE_TYPE to one of ${[...new Set(usable)].sort().join(', ') || '(none)'}`,
      { kind: 'config' },
    )
  }
  if (!type.id) throw new Error(`instance type ${typeName} has no id`)

  // Throws exoscale_not_found listing the template names of the zone.
  const template = await client.findTemplate(settings.template, { signal })
  if (!template.id || !template.name) throw new Error(`template ${settings.template} has no id`)
  const ubuntu = ubuntuReleaseForTemplate(template.name)

  const disk = settings.diskSizeGiB
  const minimum = templateMinDiskGiB(template)
  if (!Number.isInteger(disk) || disk < minimum || disk > MAX_DISK_GIB) {
    throw new ProvisionerError(
      'disk_too_small',
      disk > MAX_DISK_GIB
        ? `EXOSCALE_DISK_SIZE ${disk} GiB is above Exoscale's maximum of ${MAX_DISK_GIB} GiB: set it between ${minimum} and ${MAX_DISK_GIB}`
        : `EXOSCALE_DISK_SIZE ${disk} GiB is below the ${minimum} GiB template "${template.name}" needs: set EXOSCALE_DISK_SIZE to at least ${minimum} (models need room too; 50 is the default)`,
      { kind: 'config' },
    )
  }

  return {
    zone: settings.zone,
    instanceType: type as InstanceType & { id: string },
    instanceTypeName: typeName,
    template: template as Template & { id: string; name: string },
    diskSizeGiB: disk,
    ubuntu,
    gpu: isGpuInstanceType(typeName),
  }
}
