import type { Lifecycle } from '../app/index.js'
import type { Config } from '../config/index.js'
import type { Clock, Logger } from '../shared/index.js'
import { NotAvailableError } from './errors.js'
import type { CliIo } from './io.js'

/** What `openLifecycle` gets besides the config. */
export interface LifecycleContext {
  io: CliIo
  /** Warnings go to stderr; debug lines only with --verbose. */
  logger: Logger
  clock: Clock
}

/** What the gateway serves from (decided by the CLI from the flags and the credentials). */
export type ServeMode =
  /** Real Exoscale with the configured credentials. */
  | { kind: 'cloud' }
  /** The built-in simulator; `reason` says why (the banner says so loudly). */
  | { kind: 'simulate'; reason: 'flag' | 'no-credentials' }
  /** A fixed Ollama server (`--backend URL`); nothing is provisioned. */
  | { kind: 'backend'; url: URL }

/** Where the started gateway answers, for the banner. */
export interface ServeReady {
  /** e.g. http://127.0.0.1:11434 (the real port when EXOLLAMA_LISTEN asked for port 0). */
  url: string
}

export interface ServeOptions {
  mode: ServeMode
  /** Aborts on SIGINT/SIGTERM: stop accepting, let streams finish (EXOLLAMA_SHUTDOWN_GRACE), resolve. */
  signal: AbortSignal
  /** The gateway's logger (pino to stderr at EXOLLAMA_LOG_LEVEL, debug with --verbose). */
  logger: Logger
  clock: Clock
  /** Call once the gateway listens; the CLI prints the banner. */
  onReady(ready: ServeReady): void
}

/**
 * The parts of exollama the CLI gets from src/app. Tests inject fakes; the real ones come from
 * the composition root. `config` is loaded by the CLI (environment, config file, exo CLI file,
 * flags such as `serve --listen`).
 */
export interface CliDeps {
  /** A Lifecycle for status/start/stop/destroy/pull/models/logs; closed by the CLI after use. */
  openLifecycle(config: Config, context: LifecycleContext): Promise<Lifecycle>
  /** Runs the gateway until `options.signal` aborts, then resolves after a clean shutdown. */
  serve(config: Config, options: ServeOptions): Promise<void>
}

/**
 * The default parts. Wiring the real ones in later is a change here only, e.g.
 * `openLifecycle: (config, context) => openAppLifecycle(config, context)`.
 */
export const defaultDeps: CliDeps = {
  openLifecycle: () => Promise.reject(new NotAvailableError('lifecycle')),
  serve: () => Promise.reject(new NotAvailableError('serve')),
}
