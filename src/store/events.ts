import type { Clock, Logger } from '../shared/index.js'
import { immediate, run, type Db } from './sqlite.js'

/**
 * What happened, for `exollama logs [-f]`, the dashboard and `/exollama/v1/events` (SSE).
 * Examples of `type`: wake, create, start, boot, ready, pull, idle, stop, destroy, adopt,
 * reconcile, error. `phase` is a boot phase (creating, booting, packages, docker, image-pull,
 * ollama-start, health, ready, model-pull) when the event is about one.
 */
export interface LifecycleEventInput {
  readonly type: string
  readonly message: string
  /** The exollama name the event is about. */
  readonly name?: string | null
  readonly phase?: string | null
  /** How long the step took, when the event ends a step. */
  readonly durationMs?: number | null
  /** Who or what caused it: "request /api/chat from key k1", "idle timer", "cli". */
  readonly actor?: string | null
  /** Why, in a few words: "wake by request", "idle for 1800 s". */
  readonly reason?: string | null
  /** A stable error code when the event reports a failure. */
  readonly errorCode?: string | null
  readonly instanceId?: string | null
  /** Extra structured detail (JSON). Never put secrets here. */
  readonly data?: Readonly<Record<string, unknown>> | null
  /** Defaults to the clock's now. */
  readonly ts?: number
}

/** A stored event. `id` grows with every append and is the cursor for following. */
export interface LifecycleEvent {
  readonly id: number
  readonly ts: number
  readonly type: string
  readonly message: string
  readonly name: string | null
  readonly phase: string | null
  readonly durationMs: number | null
  readonly actor: string | null
  readonly reason: string | null
  readonly errorCode: string | null
  readonly instanceId: string | null
  readonly data: Readonly<Record<string, unknown>> | null
}

export interface EventFilter {
  /** Only events with an id greater than this (follow from a cursor). */
  readonly afterId?: number
  /** Only events with an id smaller than this (page backwards). */
  readonly beforeId?: number
  /** Only events at or after this time (ms). */
  readonly since?: number
  /** Only events before this time (ms). */
  readonly until?: number
  readonly types?: readonly string[]
  readonly name?: string
  /** Default 100, at most 1000. */
  readonly limit?: number
  /** `asc` (default: oldest first, for following) or `desc` (newest first). */
  readonly order?: 'asc' | 'desc'
}

export interface EventPage {
  readonly events: readonly LifecycleEvent[]
  /**
   * For `asc`: the largest id returned (or the given afterId when none), to pass as the next
   * `afterId`. For `desc`: the smallest id returned, to pass as the next `beforeId`. Null when
   * nothing was returned and no cursor was given.
   */
  readonly cursor: number | null
}

/**
 * Append-only lifecycle events. Followers in other processes poll `list({ afterId })`; in this
 * process `onAppend` pushes new events as they are written.
 */
export interface EventRepository {
  append(input: LifecycleEventInput): LifecycleEvent
  list(filter?: EventFilter): EventPage
  /** The id of the newest event (0 when there is none). */
  latestId(): number
  /** Calls `listener` after every append in this process; returns the unsubscribe function. */
  onAppend(listener: (event: LifecycleEvent) => void): () => void
  /** Deletes events older than `before` (ms); returns how many. The only deletion there is. */
  prune(before: number): number
}

interface Row {
  id: number
  ts: number
  name: string | null
  type: string
  phase: string | null
  duration_ms: number | null
  actor: string | null
  reason: string | null
  message: string
  error_code: string | null
  instance_id: string | null
  data: string | null
}

function toEvent(row: Row): LifecycleEvent {
  let data: Record<string, unknown> | null = null
  if (row.data !== null) {
    try {
      data = JSON.parse(row.data) as Record<string, unknown>
    } catch {
      data = null
    }
  }
  return Object.freeze({
    id: row.id,
    ts: row.ts,
    type: row.type,
    message: row.message,
    name: row.name,
    phase: row.phase,
    durationMs: row.duration_ms,
    actor: row.actor,
    reason: row.reason,
    errorCode: row.error_code,
    instanceId: row.instance_id,
    data,
  })
}

/** Messages are one line. */
function oneLine(text: string | null | undefined): string | null {
  if (text === undefined || text === null) return null
  return text.replace(/[\r\n]+/g, ' ').slice(0, 2000)
}

export function createEventRepository(db: Db, clock: Clock, logger: Logger): EventRepository {
  const insert = db.prepare(`
    INSERT INTO events (ts, name, type, phase, duration_ms, actor, reason, message, error_code,
      instance_id, data)
    VALUES (@ts, @name, @type, @phase, @duration_ms, @actor, @reason, @message, @error_code,
      @instance_id, @data)
  `)
  const latest = db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM events')
  const prune = db.prepare('DELETE FROM events WHERE ts < ?')
  const listeners = new Set<(event: LifecycleEvent) => void>()

  return {
    append(input) {
      const row: Omit<Row, 'id'> = {
        ts: input.ts ?? clock.now(),
        name: input.name ?? null,
        type: input.type,
        phase: input.phase ?? null,
        duration_ms:
          input.durationMs === undefined || input.durationMs === null
            ? null
            : Math.round(input.durationMs),
        actor: oneLine(input.actor),
        reason: oneLine(input.reason),
        message: oneLine(input.message) ?? '',
        error_code: input.errorCode ?? null,
        instance_id: input.instanceId ?? null,
        data: input.data ? JSON.stringify(input.data) : null,
      }
      const id = immediate(db, () => Number(insert.run(row).lastInsertRowid))
      const event = toEvent({ id, ...row })
      for (const listener of listeners) {
        try {
          listener(event)
        } catch (error) {
          logger.warn({ err: error }, 'an event listener threw')
        }
      }
      return event
    },

    list(filter = {}) {
      const where: string[] = []
      const params: Record<string, unknown> = {
        limit: Math.max(1, Math.min(filter.limit ?? 100, 1000)),
      }
      if (filter.afterId !== undefined) {
        where.push('id > @afterId')
        params.afterId = filter.afterId
      }
      if (filter.beforeId !== undefined) {
        where.push('id < @beforeId')
        params.beforeId = filter.beforeId
      }
      if (filter.since !== undefined) {
        where.push('ts >= @since')
        params.since = filter.since
      }
      if (filter.until !== undefined) {
        where.push('ts < @until')
        params.until = filter.until
      }
      if (filter.name !== undefined) {
        where.push('name = @name')
        params.name = filter.name
      }
      if (filter.types && filter.types.length > 0) {
        const names = filter.types.map((_, i) => `@type${i}`)
        filter.types.forEach((t, i) => (params[`type${i}`] = t))
        where.push(`type IN (${names.join(', ')})`)
      }
      const order = filter.order === 'desc' ? 'DESC' : 'ASC'
      const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id ${order} LIMIT @limit`
      const events = run(db, () => (db.prepare(sql).all(params) as Row[]).map(toEvent))
      const last = events[events.length - 1]
      const cursor = last
        ? last.id
        : order === 'ASC'
          ? (filter.afterId ?? null)
          : (filter.beforeId ?? null)
      return Object.freeze({ events: Object.freeze(events), cursor })
    },

    latestId() {
      return run(db, () => (latest.get() as { id: number }).id)
    },

    onAppend(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    prune(before) {
      return immediate(db, () => prune.run(before).changes)
    },
  }
}
