import { stableUuid } from './ids.js'
import { ZONES, type ZoneName } from './types.js'

/**
 * The seeded catalog: instance types, templates and quota limits. Shapes and names follow the
 * real API (see /work/shared/docs/exoscale-api.md §3.2, §3.3, §3.11, §5); numbers are realistic
 * but not authoritative.
 */

const GiB = 1024 ** 3
const MiB = 1024 ** 2

export interface InstanceTypeEntry {
  id: string
  family: string
  size: string
  cpus: number
  /** Absent for CPU-only types (the spec requires gpus > 0 when present). */
  gpus: number | undefined
  memory: number
  /** Zones where the type can be created. */
  zones: ZoneName[]
}

/** GPU families: their use needs a non-zero quota of the same name (and of `gpu`). */
export const GPU_FAMILIES = [
  'gpu',
  'gpu2',
  'gpu3',
  'gpua30',
  'gpu3080ti',
  'gpua5000',
  'gpurtx6000pro',
  'gpub300',
] as const

export function isGpuFamily(family: string): boolean {
  return (GPU_FAMILIES as readonly string[]).includes(family)
}

function type(
  family: string,
  size: string,
  cpus: number,
  memory: number,
  zones: readonly ZoneName[],
  gpus?: number,
): InstanceTypeEntry {
  return {
    id: stableUuid(`instance-type:${family}.${size}`),
    family,
    size,
    cpus,
    gpus,
    memory,
    zones: [...zones],
  }
}

const ALL = ZONES

/** Every instance type. The list endpoint answers all of them in every zone, like the real API. */
export const INSTANCE_TYPES: readonly InstanceTypeEntry[] = [
  type('standard', 'micro', 1, 512 * MiB, ALL),
  type('standard', 'tiny', 1, 1 * GiB, ALL),
  type('standard', 'small', 2, 2 * GiB, ALL),
  type('standard', 'medium', 2, 4 * GiB, ALL),
  type('standard', 'large', 4, 8 * GiB, ALL),
  type('standard', 'extra-large', 4, 16 * GiB, ALL),
  type('standard', 'huge', 8, 32 * GiB, ALL),
  type('standard', 'mega', 12, 64 * GiB, ALL),
  type('standard', 'titan', 16, 128 * GiB, ALL),
  type('standard', 'jumbo', 24, 225 * GiB, ALL),
  type('standard', 'colossus', 40, 225 * GiB, ALL),
  type('cpu', 'extra-large', 8, 16 * GiB, ALL),
  type('cpu', 'huge', 16, 32 * GiB, ALL),
  type('memory', 'extra-large', 2, 16 * GiB, ALL),
  type('memory', 'huge', 4, 32 * GiB, ALL),
  type('gpua5000', 'small', 8, 60 * GiB, ['at-vie-2'], 1),
  type('gpua5000', 'medium', 16, 120 * GiB, ['at-vie-2'], 2),
  type('gpua5000', 'large', 32, 240 * GiB, ['at-vie-2'], 4),
  type('gpu3080ti', 'small', 12, 56 * GiB, ['at-vie-2'], 1),
  type('gpu3080ti', 'medium', 24, 112 * GiB, ['at-vie-2'], 2),
  type('gpu3080ti', 'large', 48, 224 * GiB, ['at-vie-2'], 4),
  type('gpu3', 'small', 12, 56 * GiB, ['de-fra-1'], 1),
  type('gpu3', 'medium', 24, 112 * GiB, ['de-fra-1'], 2),
  type('gpu3', 'large', 48, 224 * GiB, ['de-fra-1'], 4),
  type('gpu3', 'huge', 96, 448 * GiB, ['de-fra-1'], 8),
  type('gpua30', 'small', 8, 56 * GiB, ['ch-gva-2'], 1),
  type('gpua30', 'medium', 16, 112 * GiB, ['ch-gva-2'], 2),
  type('gpurtx6000pro', 'small', 16, 120 * GiB, ['ch-dk-2', 'de-fra-1', 'hr-zag-1'], 1),
  type('gpurtx6000pro', 'medium', 32, 240 * GiB, ['ch-dk-2', 'de-fra-1', 'hr-zag-1'], 2),
  type('gpurtx6000pro', 'large', 64, 480 * GiB, ['ch-dk-2', 'de-fra-1', 'hr-zag-1'], 4),
]

export interface TemplateEntry {
  id: string
  zone: ZoneName
  name: string
  description: string
  family: string
  defaultUser: string
  visibility: 'public' | 'private'
  bootMode: 'legacy' | 'uefi'
  build: string
  version: string
  maintainer: string
  checksum: string
  /** Bytes. */
  size: number
  createdAt: string
  url: string | undefined
}

interface TemplateSeed {
  name: string
  family: string
  defaultUser: string
  build: string
  version: string
  createdAt: string
  bootMode: 'legacy' | 'uefi'
  visibility?: 'private'
}

/**
 * Templates of every zone, in the (unsorted) order the list answers them. Same-named duplicates
 * differ by `created-at`; a name lookup must take the newest, which is neither always first nor
 * always last here.
 */
const TEMPLATE_SEEDS: readonly TemplateSeed[] = [
  {
    name: 'Linux Ubuntu 22.04 LTS 64-bit',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: '2025-03-18-2a7f1c',
    version: '22.04',
    createdAt: '2025-03-18T09:12:44Z',
    bootMode: 'legacy',
  },
  {
    name: 'Linux Debian 12 (Bookworm) 64-bit',
    family: 'debian',
    defaultUser: 'debian',
    build: '2025-08-02-77d0aa',
    version: '12',
    createdAt: '2025-08-02T07:40:00Z',
    bootMode: 'uefi',
  },
  {
    name: 'Linux Ubuntu 24.04 LTS 64-bit',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: '2025-11-04-5e0c2d',
    version: '24.04',
    createdAt: '2025-11-05T10:03:21Z',
    bootMode: 'uefi',
  },
  {
    name: 'Linux Ubuntu 22.04 LTS 64-bit',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: '2025-10-21-c41b9e',
    version: '22.04',
    createdAt: '2025-10-21T14:55:02Z',
    bootMode: 'legacy',
  },
  {
    name: 'Linux Ubuntu 20.04 LTS 64-bit',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: '2025-04-29-9b2e11',
    version: '20.04',
    createdAt: '2025-04-29T08:30:00Z',
    bootMode: 'legacy',
  },
  {
    name: 'Linux Ubuntu 24.04 LTS 64-bit',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: '2025-06-10-0f3a8b',
    version: '24.04',
    createdAt: '2025-06-12T11:20:45Z',
    bootMode: 'uefi',
  },
  {
    name: 'Linux Ubuntu 22.04 LTS 64-bit',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: '2025-07-08-1d93f0',
    version: '22.04',
    createdAt: '2025-07-08T16:01:10Z',
    bootMode: 'legacy',
  },
  {
    name: 'Linux Debian 13 (Trixie) 64-bit',
    family: 'debian',
    defaultUser: 'debian',
    build: '2025-09-15-ab12cd',
    version: '13',
    createdAt: '2025-09-15T12:00:00Z',
    bootMode: 'uefi',
  },
  {
    name: 'Linux Rocky 9 64-bit',
    family: 'rocky',
    defaultUser: 'rocky',
    build: '2025-05-20-3c4d5e',
    version: '9',
    createdAt: '2025-05-20T09:00:00Z',
    bootMode: 'uefi',
  },
  {
    name: 'Linux Arch Rolling',
    family: 'arch',
    defaultUser: 'arch',
    build: '2025-11-01-aa00bb',
    version: 'rolling',
    createdAt: '2025-11-01T06:00:00Z',
    bootMode: 'uefi',
  },
  {
    name: 'Linux Arch Rolling',
    family: 'arch',
    defaultUser: 'arch',
    build: '2025-10-01-cc11dd',
    version: 'rolling',
    createdAt: '2025-10-01T06:00:00Z',
    bootMode: 'uefi',
  },
  {
    name: 'exollama-prebaked-ubuntu-22.04',
    family: 'ubuntu',
    defaultUser: 'ubuntu',
    build: 'custom-1',
    version: '1',
    createdAt: '2025-12-01T18:00:00Z',
    bootMode: 'legacy',
    visibility: 'private',
  },
]

/** The templates of one zone; ids differ per zone (templates are zone-local). */
export function templatesFor(zone: ZoneName): TemplateEntry[] {
  return TEMPLATE_SEEDS.map((seed) => {
    const id = stableUuid(`template:${zone}:${seed.name}:${seed.build}`)
    const visibility = seed.visibility ?? 'public'
    return {
      id,
      zone,
      name: seed.name,
      description: '',
      family: seed.family,
      defaultUser: seed.defaultUser,
      visibility,
      bootMode: seed.bootMode,
      build: seed.build,
      version: seed.version,
      maintainer: visibility === 'public' ? 'Exoscale' : 'exollama',
      checksum: stableUuid(`checksum:${id}`).replace(/-/g, ''),
      size: 10 * GiB,
      createdAt: seed.createdAt,
      url:
        visibility === 'private'
          ? `https://sos-${zone}.exo.io/exollama-templates/${seed.build}.qcow2`
          : undefined,
    }
  })
}

/** Default organisation quota limits (-1 = unlimited). GPU families outside these are 0. */
export const DEFAULT_QUOTA_LIMITS: Readonly<Record<string, number>> = {
  instance: 20,
  gpu: 8,
  gpu2: 0,
  gpu3: 4,
  gpua30: 0,
  gpu3080ti: 4,
  gpua5000: 4,
  gpurtx6000pro: 0,
  gpub300: 0,
  'elastic-ip': 5,
  snapshot: 50,
  template: 10,
  'private-network': 10,
  'network-load-balancer': 5,
  'sks-cluster': 5,
  'iam-key': 100,
  database: 5,
  bucket: 100,
  'block-storage-volume': 20,
  'block-storage': 10240,
  'block-storage-max-size': 10240,
}
