import { z } from 'zod'

/**
 * The instance's boot progress, `GET https://<ip>:11435/exollama/boot` (key required), as the
 * boot script writes it. The format is an internal contract (docs/architecture.md).
 */
export const BOOT_PHASES = [
  'booting',
  'packages',
  'docker',
  'gpu-driver',
  'image-pull',
  'ollama-start',
  'health',
  'ready',
] as const
export type BootPhase = (typeof BOOT_PHASES)[number]

export const BOOT_STATES = ['running', 'ready', 'failed'] as const
export type BootState = (typeof BOOT_STATES)[number]

const bootStatusSchema = z.object({
  state: z.enum(BOOT_STATES),
  phase: z.enum(BOOT_PHASES),
  percent: z.number().int().min(0).max(100),
  error: z.string().nullable(),
  updated_at: z.number().int().nonnegative(),
  gpu: z.boolean(),
})

export type BootStatus = z.infer<typeof bootStatusSchema>

/** Parses a boot status body; undefined when it is not one (e.g. the 503 `{"error":"booting"}`). */
export function parseBootStatus(body: unknown): BootStatus | undefined {
  const result = bootStatusSchema.safeParse(body)
  return result.success ? result.data : undefined
}
