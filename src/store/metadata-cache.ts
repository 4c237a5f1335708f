import type { Clock } from '../shared/index.js'
import { immediate, run, type Db } from './sqlite.js'

/** The routes whose last answers are kept so a sleeping instance need not wake for them. */
export const METADATA_ROUTES = ['/api/tags', '/api/version', '/api/ps', '/v1/models'] as const
export type MetadataRoute = (typeof METADATA_ROUTES)[number]

export interface CachedMetadata {
  readonly route: MetadataRoute
  /** The upstream's JSON answer, parsed. */
  readonly body: unknown
  /** When the upstream gave this answer (ms). */
  readonly fetchedAt: number
}

/**
 * Last known answers for /api/tags, /api/version, /api/ps and /v1/models, surviving restarts.
 * UIs poll these routes; to keep the disk quiet an unchanged answer is written at most every
 * `refreshWriteMs` (the in-memory copy always has the latest time).
 */
export interface MetadataCacheRepository {
  get(route: MetadataRoute): CachedMetadata | null
  put(route: MetadataRoute, body: unknown, fetchedAt?: number): CachedMetadata
  clear(route?: MetadataRoute): void
}

interface Row {
  route: string
  body: string
  fetched_at: number
}

export function createMetadataCache(
  db: Db,
  clock: Clock,
  options: { refreshWriteMs?: number } = {},
): MetadataCacheRepository {
  const refreshWriteMs = options.refreshWriteMs ?? 300_000
  const select = db.prepare('SELECT * FROM metadata_cache WHERE route = ?')
  const upsert = db.prepare(`
    INSERT INTO metadata_cache (route, body, fetched_at) VALUES (?, ?, ?)
    ON CONFLICT (route) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at
  `)
  const memory = new Map<
    MetadataRoute,
    { text: string; entry: CachedMetadata; writtenAt: number }
  >()

  return {
    get(route) {
      const hit = memory.get(route)
      if (hit) return hit.entry
      const row = run(db, () => select.get(route) as Row | undefined)
      if (!row) return null
      const entry = Object.freeze({
        route,
        body: JSON.parse(row.body) as unknown,
        fetchedAt: row.fetched_at,
      })
      memory.set(route, { text: row.body, entry, writtenAt: row.fetched_at })
      return entry
    },

    put(route, body, fetchedAt) {
      const at = fetchedAt ?? clock.now()
      const text = JSON.stringify(body)
      // Parse back so callers never share (and mutate) the object they passed in.
      const entry = Object.freeze({ route, body: JSON.parse(text) as unknown, fetchedAt: at })
      const previous = memory.get(route)
      const unchanged = previous !== undefined && previous.text === text
      if (unchanged && at - previous.writtenAt < refreshWriteMs) {
        memory.set(route, { text, entry, writtenAt: previous.writtenAt })
        return entry
      }
      immediate(db, () => upsert.run(route, text, at))
      memory.set(route, { text, entry, writtenAt: at })
      return entry
    },

    clear(route) {
      immediate(db, () => {
        if (route) db.prepare('DELETE FROM metadata_cache WHERE route = ?').run(route)
        else db.prepare('DELETE FROM metadata_cache').run()
      })
      if (route) memory.delete(route)
      else memory.clear()
    },
  }
}
