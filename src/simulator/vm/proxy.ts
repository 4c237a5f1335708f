import type { Clock, Logger } from '../../shared/index.js'
import type { InstanceSite } from './instance-site.js'
import type { VmRootfs } from './rootfs.js'

/** Which front door an emulated VM runs: real nginx, or the Node stand-in. */
export type ProxyKind = 'nginx' | 'standin'

/** The running front door of an emulated VM. */
export interface VmProxy {
  readonly kind: ProxyKind
  /** nginx's master pid (undefined for the stand-in, which runs in this process). */
  readonly pid: number | undefined
  /** Stops it: afterwards connections to the instance are refused. */
  stop(): Promise<void>
}

/** What both front doors need to start. */
export interface ProxyStartInput {
  site: InstanceSite
  rootfs: VmRootfs
  /** The instance's public IP (a loopback address) and the port the config listens on. */
  ip: string
  /** Where the emulated Ollama (the VM's 127.0.0.1:11434) really listens. */
  ollamaPort: number
  /** The port the VM's Ollama has inside the VM (what the config's upstream names). */
  vmOllamaPort: number
  /** Serve this key pair instead of the one in write_files (a pin-mismatch fault). */
  tlsOverride?: { certPem: string; keyPem: string } | undefined
  /** The VM's clock (the stand-in's `$msec`). */
  clock: Clock
  logger: Logger
}

/** The port of a `listen` argument (`11435`, `0.0.0.0:11435`, `[::]:11435`, `*:11435`). */
export function listenPort(arg: string): number | undefined {
  const m = /^(?:\[[^\]]*\]:|[^:[\]]+:)?(\d{1,5})$/.exec(arg)
  const port = m?.[1] === undefined ? NaN : Number(m[1])
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined
}
