import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { silentLogger, systemClock, type Clock, type Logger } from '../shared/index.js'
import {
  createPrivateFile,
  ensurePrivateDir,
  ensurePrivateFile,
  type PermissionFix,
} from '../shared/secure-fs.js'
import { createApiKeyRepository, type ApiKeyRepository } from './api-keys.js'
import { StoreError, StoreInputError } from './errors.js'
import { createEventRepository, type EventRepository } from './events.js'
import { createInstanceRepository, type InstanceRepository } from './instance-records.js'
import { createIntentRepository, type IntentRepository } from './intents.js'
import { createLeaseRepository, type LeaseRepository } from './leases.js'
import { createMetadataCache, type MetadataCacheRepository } from './metadata-cache.js'
import { migrate } from './migrations.js'
import { createPricing } from './prices.js'
import {
  createRequestUsageRecorder,
  type RequestUsageOptions,
  type RequestUsageRecorder,
} from './request-usage.js'
import { openDatabase, readPragmas, run, type Db, type StorePragmas } from './sqlite.js'
import { createUsageLedger, type UsageLedger } from './usage-ledger.js'

/** The file name of the store inside the data directory. */
export const STORE_FILE_NAME = 'exollama.db'

export interface OpenStoreOptions {
  /** The data directory (0700, created if missing); the store is `<dataDir>/exollama.db`. */
  readonly dataDir?: string
  /** A database file, or `:memory:` for a private in-memory store (tests). */
  readonly path?: string
  readonly clock?: Clock
  readonly logger?: Logger
  /** A store file or data directory others can read: fix it with a warning (default) or refuse. */
  readonly tooOpen?: 'fix' | 'refuse'
  /** Per-type hourly price overrides on top of spec/exoscale-prices.json. */
  readonly priceOverrides?: Readonly<Record<string, number>>
  /** Currency label for costs (default CHF). */
  readonly currency?: string
  readonly requestUsage?: RequestUsageOptions
}

export interface StoreHealth {
  readonly pragmas: StorePragmas
  readonly schemaVersion: number
  /** `ok`, or what `PRAGMA quick_check` found. */
  readonly integrity: string
}

/**
 * The SQLite store. Repositories are small typed interfaces; nothing outside src/store knows
 * the driver. Safe to share between processes on one host (WAL, busy timeout, BEGIN IMMEDIATE
 * for every read-modify-write).
 */
export interface Store {
  /** The database file, or `:memory:`. */
  readonly path: string
  readonly schemaVersion: number
  readonly instances: InstanceRepository
  readonly intents: IntentRepository
  readonly events: EventRepository
  readonly usage: UsageLedger
  readonly requests: RequestUsageRecorder
  readonly leases: LeaseRepository
  readonly apiKeys: ApiKeyRepository
  readonly metadata: MetadataCacheRepository
  /** Pragmas in force, schema version and a quick integrity check. */
  health(): StoreHealth
  /** Flushes buffered usage and closes the database. Idempotent. */
  close(): void
}

function resolveFile(options: OpenStoreOptions): string {
  if ((options.dataDir === undefined) === (options.path === undefined)) {
    throw new StoreInputError(
      'invalid_store_options',
      'openStore needs exactly one of dataDir and path',
    )
  }
  if (options.path === ':memory:') return ':memory:'
  if (options.dataDir !== undefined)
    return path.join(path.resolve(options.dataDir), STORE_FILE_NAME)
  return path.resolve(options.path as string)
}

function warnFix(logger: Logger, fix: PermissionFix | null): void {
  if (fix) {
    logger.warn(
      { path: fix.path, from: `0${fix.from.toString(8)}`, to: `0${fix.to.toString(8)}` },
      'tightened permissions of a store path that other users could read',
    )
  }
}

/** Makes the directory and files private before SQLite touches them. */
function secureFiles(file: string, options: OpenStoreOptions, logger: Logger): void {
  const tooOpen = options.tooOpen ?? 'fix'
  const dir = path.dirname(file)
  if (options.dataDir !== undefined || !existsSync(dir)) {
    warnFix(logger, ensurePrivateDir(dir, { tooOpen }).fixed)
  } else if (process.platform !== 'win32' && (statSync(dir).mode & 0o077) !== 0) {
    // A directory the caller chose (e.g. /tmp): not ours to chmod, but worth saying.
    logger.warn({ path: dir }, 'the store directory is accessible to other users')
  }
  // Create the file 0600 ourselves, so SQLite never creates it with the umask's 0644; its WAL
  // and shared-memory files take the database file's mode.
  warnFix(logger, createPrivateFile(file, { tooOpen }))
  for (const suffix of ['-wal', '-shm', '-journal']) {
    warnFix(logger, ensurePrivateFile(`${file}${suffix}`, { tooOpen }))
  }
}

/**
 * Opens (creating and migrating as needed) the store. Exactly one of `dataDir` and `path`.
 * Verifies file modes (0600 files in a 0700 directory) and the pragmas it depends on.
 */
export function openStore(options: OpenStoreOptions): Store {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const file = resolveFile(options)
  if (file !== ':memory:') secureFiles(file, options, logger)

  const db: Db = openDatabase(file)
  let version: number
  try {
    version = migrate(db, clock.now()).to
    const pragmas = readPragmas(db)
    const wal = file === ':memory:' || pragmas.journalMode === 'wal'
    if (
      !wal ||
      pragmas.synchronous !== 'FULL' ||
      pragmas.busyTimeoutMs < 5000 ||
      !pragmas.foreignKeys
    ) {
      throw new StoreError(
        'store_open_failed',
        `the store ${file} did not take its pragmas (${JSON.stringify(pragmas)})`,
      )
    }
    if (file !== ':memory:') {
      for (const suffix of ['-wal', '-shm']) {
        warnFix(
          logger,
          ensurePrivateFile(`${file}${suffix}`, { tooOpen: options.tooOpen ?? 'fix' }),
        )
      }
    }
  } catch (error) {
    db.close()
    throw error
  }

  const pricing = createPricing({
    ...(options.priceOverrides ? { overrides: options.priceOverrides } : {}),
    ...(options.currency ? { currency: options.currency } : {}),
  })
  const requests = createRequestUsageRecorder(db, clock, logger, options.requestUsage)
  let closed = false

  return {
    path: file,
    schemaVersion: version,
    instances: createInstanceRepository(db, clock),
    intents: createIntentRepository(db, clock),
    events: createEventRepository(db, clock, logger),
    usage: createUsageLedger(db, clock, pricing),
    requests,
    leases: createLeaseRepository(db, clock),
    apiKeys: createApiKeyRepository(db, clock),
    metadata: createMetadataCache(db, clock),
    health() {
      return run(db, () => {
        const integrity = db
          .prepare('PRAGMA quick_check')
          .all()
          .map((row) => Object.values(row as Record<string, unknown>)[0])
          .join('; ')
        return Object.freeze({ pragmas: readPragmas(db), schemaVersion: version, integrity })
      })
    },
    close() {
      if (closed) return
      closed = true
      try {
        requests.close()
      } finally {
        db.close()
      }
    },
  }
}
