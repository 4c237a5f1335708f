import { UnsupportedTemplateError } from './errors.js'

/** The Ubuntu releases the recipe supports (nginx 1.18 and 1.24 respectively). */
export const UBUNTU_RELEASES = ['22.04', '24.04'] as const
export type UbuntuRelease = (typeof UBUNTU_RELEASES)[number]

/**
 * The Ubuntu release of an Exoscale template name such as "Linux Ubuntu 22.04 LTS 64-bit".
 * Throws `recipe_unsupported_template` for anything else.
 */
export function ubuntuReleaseForTemplate(templateName: string): UbuntuRelease {
  const match = /\bubuntu\s+(\d{2}\.\d{2})\b/i.exec(templateName)
  const release = UBUNTU_RELEASES.find((r) => r === match?.[1])
  if (!release) throw new UnsupportedTemplateError(templateName)
  return release
}

/**
 * Whether an Exoscale instance type ("gpua5000.small", "gpu3", "standard.medium") has NVIDIA
 * GPUs: every GPU family's name starts with "gpu" (gpu, gpu2, gpu3, gpu3080ti, gpua30,
 * gpua5000, gpub300, gpurtx6000pro).
 */
export function isGpuInstanceType(instanceType: string): boolean {
  const family = instanceType.trim().toLowerCase().split('.')[0] ?? ''
  return /^gpu[a-z0-9]*$/.test(family)
}
