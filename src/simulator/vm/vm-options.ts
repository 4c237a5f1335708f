import { accessSync, constants } from 'node:fs'
import { tmpdir } from 'node:os'
import { DEFAULT_NGINX_BINARY } from '../../shared/nginx-process.js'
import type { FakeModel, FakeOllamaBehavior } from '../fake-ollama.js'
import type { VmBootPhase } from './boot-status.js'
import type { ProxyKind } from './proxy.js'

/**
 * How long each stretch of an emulated boot takes (ms, on the simulator's clock):
 * - `firstWrite`: power-on until the boot script's first status write (cloud-init starting);
 *   /exollama/boot answers 503 `{"error":"booting"}` meanwhile on a first boot;
 * - one entry per boot step (the status shows the step for that long);
 * - `reboot`: the GPU driver reboot (nginx is down meanwhile);
 * - `preload`: pulling one EXOLLAMA_MODEL after `ready`.
 */
export type VmPhaseTimings = Record<Exclude<VmBootPhase, 'ready'>, number> & {
  firstWrite: number
  reboot: number
  preload: number
}

/**
 * Defaults: a CPU cold start takes about 2.9 s from `running` to `ready` (plus the API's ~1 s
 * of `provisioning`), a GPU one about 5 s, a later boot about 0.7 s; every state a status poll
 * should see lasts well over 0.3 s, and everything is far below the 2 minutes budget.
 */
export const DEFAULT_PHASE_MS: Readonly<VmPhaseTimings> = {
  firstWrite: 200,
  booting: 300,
  packages: 500,
  docker: 400,
  'gpu-driver': 800,
  reboot: 600,
  'image-pull': 800,
  'ollama-start': 300,
  health: 200,
  preload: 500,
}

/** Knobs of the emulated Ollama: the fake Ollama's behaviour, plus its initial models. */
export type VmOllamaOptions = Partial<FakeOllamaBehavior> & {
  /** Models present on a fresh instance. Default none (pull or EXOLLAMA_MODEL adds them). */
  models?: FakeModel[]
}

/** `startSimulator({ vm })`: the emulated VMs behind simulated instances. */
export interface VmOptions {
  /** Boot an emulated VM when an instance reaches `running`. Default true. */
  enabled?: boolean
  /** `auto` (default): real nginx when its binary is there, else the Node stand-in. */
  proxy?: 'auto' | ProxyKind
  /** Default /usr/sbin/nginx. */
  nginxBinary?: string
  /** Default /bin/bash (the watchdog script needs it). */
  bash?: string
  phaseMs?: Partial<VmPhaseTimings>
  ollama?: VmOllamaOptions
  /**
   * Run the instance's own watchdog script on its timer's schedule and power the instance off
   * when it says so. Default true; `{ intervalMs, firstMs }` override the timer's 1 min.
   */
  watchdog?: boolean | { intervalMs?: number; firstMs?: number }
  /** Where the VMs' temp directories go. Default os.tmpdir(). */
  tempDir?: string
  /** How long nginx may take to listen. Default 15 s. */
  nginxStartTimeoutMs?: number
}

export interface ResolvedVmOptions {
  enabled: boolean
  proxy: ProxyKind
  nginxBinary: string
  bash: string | undefined
  phaseMs: VmPhaseTimings
  ollama: VmOllamaOptions
  watchdog: { intervalMs: number | undefined; firstMs: number | undefined } | false
  tempDir: string
  nginxStartTimeoutMs: number | undefined
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Fills in the defaults; `auto` becomes the proxy this machine can run. */
export function resolveVmOptions(options: VmOptions = {}): ResolvedVmOptions {
  const nginxBinary = options.nginxBinary ?? DEFAULT_NGINX_BINARY
  const requested = options.proxy ?? 'auto'
  const proxy: ProxyKind =
    requested === 'auto' ? (executable(nginxBinary) ? 'nginx' : 'standin') : requested
  for (const [name, ms] of Object.entries(options.phaseMs ?? {})) {
    if (!(typeof ms === 'number' && ms >= 0)) {
      throw new RangeError(`vm.phaseMs.${name} must be a number >= 0, got ${String(ms)}`)
    }
  }
  const bash = options.bash ?? ['/bin/bash', '/usr/bin/bash'].find(executable)
  const watchdog = options.watchdog ?? true
  return {
    enabled: options.enabled ?? true,
    proxy,
    nginxBinary,
    bash,
    phaseMs: { ...DEFAULT_PHASE_MS, ...options.phaseMs },
    ollama: options.ollama ?? {},
    watchdog:
      watchdog === false
        ? false
        : {
            intervalMs: watchdog === true ? undefined : watchdog.intervalMs,
            firstMs: watchdog === true ? undefined : watchdog.firstMs,
          },
    tempDir: options.tempDir ?? tmpdir(),
    nginxStartTimeoutMs: options.nginxStartTimeoutMs,
  }
}
