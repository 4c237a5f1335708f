import type { Lifecycle } from '../app/index.js'
import {
  defaultDataDir,
  loadConfig,
  parseSetting,
  type Config,
  type SettingName,
} from '../config/index.js'
import { systemClock, type Clock, type Logger } from '../shared/index.js'
import { openStore, type Store } from '../store/index.js'
import type { CliDeps } from './deps.js'
import { NotAvailableError } from './errors.js'
import type { CliIo } from './io.js'
import { createCliLogger } from './logger.js'
import { Output } from './output.js'
import { ProgressDisplay } from './progress.js'

/** Settings whose values no output may show. */
const SECRET_SETTINGS = ['EXOSCALE_API_KEY', 'EXOSCALE_API_SECRET', 'EXOSCALE_OLLAMA_KEY'] as const

/** What one `run()` shares with the command it runs. */
export interface RunEnv {
  readonly io: CliIo
  readonly deps: CliDeps
  readonly clock: Clock
  /** When the command started (ms): `start --timeout` and elapsed times count from here. */
  readonly startedAt: number
}

/**
 * One command's view of the world: output, config, store and lifecycle, opened on first use and
 * closed by `close()` whatever happens.
 */
export class CommandContext {
  readonly io: CliIo
  readonly deps: CliDeps
  readonly clock: Clock
  readonly startedAt: number
  readonly out: Output
  readonly verbose: boolean
  /** The command's name, for messages ("status", "config set"). */
  readonly command: string
  readonly logger: Logger
  readonly #closers: (() => unknown)[] = []
  #config: Config | undefined
  #never = new AbortController()

  constructor(env: RunEnv, options: { command: string; json: boolean; verbose: boolean }) {
    this.io = env.io
    this.deps = env.deps
    this.clock = env.clock
    this.startedAt = env.startedAt
    this.command = options.command
    this.verbose = options.verbose
    this.out = new Output(env.io, { json: options.json })
    for (const name of SECRET_SETTINGS) this.out.addSecret(env.io.env[name])
    this.logger = createCliLogger(this.out, options.verbose)
  }

  /** Aborts on SIGINT/SIGTERM (never, when the caller gave no signal). */
  get signal(): AbortSignal {
    return this.io.shutdownSignal ?? this.#never.signal
  }

  /**
   * The data directory without loading the other settings: commands that only need the store or
   * the config file keep working while some other setting is broken.
   */
  dataDir(): string {
    if (this.#config) return this.#config.dataDir
    const raw = this.io.env.EXOLLAMA_DATA_DIR
    return raw !== undefined && raw !== ''
      ? parseSetting('EXOLLAMA_DATA_DIR', raw, 'environment')
      : defaultDataDir(this.io.env)
  }

  /** The configuration (loaded once); its warnings go to stderr. */
  config(flags: Partial<Record<SettingName, string>> = {}): Config {
    if (this.#config) return this.#config
    const config = loadConfig({ env: this.io.env, flags })
    for (const name of SECRET_SETTINGS) this.out.addSecret(config.values[name])
    for (const warning of config.warnings) this.out.warn(warning)
    this.#config = config
    return config
  }

  /** The store in the data directory; prices and currency follow the config when given. */
  store(config?: Config): Store {
    const store = openStore({
      dataDir: config?.dataDir ?? this.dataDir(),
      clock: this.clock,
      logger: this.logger,
      ...(config
        ? {
            currency: config.values.EXOLLAMA_CURRENCY,
            ...(config.values.EXOLLAMA_PRICE_PER_HOUR === undefined
              ? {}
              : {
                  priceOverrides: {
                    [config.values.EXOSCALE_INSTANCE_TYPE]: config.values.EXOLLAMA_PRICE_PER_HOUR,
                  },
                }),
          }
        : {}),
    })
    this.#closers.push(() => store.close())
    return store
  }

  /** The lifecycle from the injected deps, closed with the context. */
  async lifecycle(config: Config): Promise<Lifecycle> {
    let lifecycle: Lifecycle
    try {
      lifecycle = await this.deps.openLifecycle(config, {
        io: this.io,
        logger: this.logger,
        clock: this.clock,
      })
    } catch (error) {
      if (error instanceof NotAvailableError) throw new NotAvailableError(this.command)
      throw error
    }
    this.#closers.push(() => lifecycle.close())
    return lifecycle
  }

  /**
   * A progress display for long work: on stdout (live on a terminal, plain lines otherwise); in
   * --json mode on stderr, and only when that is a terminal.
   */
  progress(): ProgressDisplay | undefined {
    const stream = this.out.json ? this.io.stderr : this.io.stdout
    if (this.out.json && stream.isTTY !== true) return undefined
    const style = this.out.json ? this.out.errStyle : this.out.outStyle
    const write = this.out.json
      ? (text: string) => this.out.writeErr(text)
      : (text: string) => this.out.writeOut(text)
    const display = new ProgressDisplay({
      write,
      live: stream.isTTY === true,
      style,
      clock: this.clock,
      startedAt: this.startedAt,
      ...(stream.columns ? { columns: stream.columns } : {}),
    })
    this.#closers.push(() => display.abort())
    return display
  }

  /** Closes what the command opened, newest first; a failure to close is only a warning. */
  async close(): Promise<void> {
    while (this.#closers.length > 0) {
      const close = this.#closers.pop() as () => unknown
      try {
        await close()
      } catch (error) {
        this.out.warn(`while closing: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }
}

/** The default clock when the io gives none. */
export function clockOf(io: CliIo): Clock {
  return io.clock ?? systemClock
}
