/**
 * The instance's boot status as the recipe's boot script writes it to boot.json and nginx
 * serves it at /exollama/boot (the format is fixed by docs/architecture.md). Repeated here
 * because the simulator may not import src/recipe; test/simulator checks both agree.
 */

export const VM_BOOT_PHASES = [
  'booting',
  'packages',
  'docker',
  'gpu-driver',
  'image-pull',
  'ollama-start',
  'health',
  'ready',
] as const

export type VmBootPhase = (typeof VM_BOOT_PHASES)[number]

export type VmBootState = 'running' | 'ready' | 'failed'

export interface VmBootStatus {
  state: VmBootState
  phase: VmBootPhase
  percent: number
  error: string | null
  /** UNIX seconds of the write. */
  updated_at: number
  gpu: boolean
}

/** The percent the boot script writes when a step starts (image-pull is later on GPU types). */
export function phasePercent(phase: VmBootPhase, gpu: boolean): number {
  switch (phase) {
    case 'booting':
      return 0
    case 'packages':
      return 5
    case 'docker':
      return 15
    case 'gpu-driver':
      return 25
    case 'image-pull':
      return gpu ? 45 : 30
    case 'ollama-start':
      return 85
    case 'health':
      return 92
    case 'ready':
      return 100
  }
}

/** The serialized line, byte for byte as the boot script's printf writes it. */
export function formatBootStatus(status: VmBootStatus): string {
  const error = status.error === null ? 'null' : JSON.stringify(oneLine(status.error))
  return `{"state":"${status.state}","phase":"${status.phase}","percent":${status.percent},"error":${error},"updated_at":${status.updated_at},"gpu":${status.gpu}}\n`
}

/** As the script's json_string: printable ASCII on one line, at most 300 characters. */
export function oneLine(text: string): string {
  return text.replace(/[^ -~]/g, ' ').slice(0, 300)
}
