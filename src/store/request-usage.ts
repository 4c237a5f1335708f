import type { Clock, Logger, Timer } from '../shared/index.js'
import { immediate, run, type Db } from './sqlite.js'

/** One proxied request, as the gateway reports it when the response has ended. */
export interface RequestUsage {
  /** End of the request (ms); defaults to the clock's now when recorded. */
  readonly ts?: number
  /** The client key's short id (null for an unauthenticated local client). */
  readonly keyId: string | null
  /** The route, e.g. `/api/chat` or `/v1/chat/completions` (no query string). */
  readonly route: string
  readonly model: string | null
  readonly promptTokens: number | null
  readonly evalTokens: number | null
  readonly status: number
  readonly durationMs: number
  readonly instanceId?: string | null
}

export interface RequestUsageStats {
  /** Entries handed to `record`. */
  readonly recorded: number
  /** Entries written to the database. */
  readonly written: number
  /** Write transactions (batches) so far. */
  readonly flushes: number
  /** Entries dropped because the buffer overflowed while the database failed. */
  readonly dropped: number
  /** Entries waiting in memory. */
  readonly pending: number
}

export interface RequestUsageTotals {
  readonly requests: number
  readonly promptTokens: number
  readonly evalTokens: number
  readonly byKey: readonly {
    keyId: string | null
    requests: number
    promptTokens: number
    evalTokens: number
  }[]
  readonly byModel: readonly {
    model: string | null
    requests: number
    promptTokens: number
    evalTokens: number
  }[]
}

/**
 * Per-request usage, written in batches: `record` only appends to memory; a flush writes the
 * buffer in one transaction when it reaches `batchSize`, every `flushIntervalMs`, and on
 * `close`. So no request waits for the disk, and N requests cost about N / batchSize writes.
 * Queries flush first, so they see everything recorded in this process.
 */
export interface RequestUsageRecorder {
  record(entry: RequestUsage): void
  /** Writes what is buffered now; returns how many entries were written. */
  flush(): number
  stats(): RequestUsageStats
  totals(range?: { since?: number; until?: number; keyId?: string }): RequestUsageTotals
  /** Deletes entries older than `before` (ms); returns how many. */
  prune(before: number): number
  /** Flushes and stops the timer; later `record` calls are written at once. */
  close(): void
}

export interface RequestUsageOptions {
  /** Flush when this many entries are buffered (default 500). */
  readonly batchSize?: number
  /** Flush this long after the first buffered entry (default 5 s). */
  readonly flushIntervalMs?: number
  /** Most entries kept in memory while writes fail; older ones are dropped (default 100 000). */
  readonly maxPending?: number
}

interface Row {
  ts: number
  key_id: string | null
  route: string
  model: string | null
  prompt_tokens: number | null
  eval_tokens: number | null
  status: number
  duration_ms: number
  instance_id: string | null
}

function count(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? null : Math.max(0, Math.round(value))
}

export function createRequestUsageRecorder(
  db: Db,
  clock: Clock,
  logger: Logger,
  options: RequestUsageOptions = {},
): RequestUsageRecorder {
  const batchSize = Math.max(1, options.batchSize ?? 500)
  const intervalMs = Math.max(1, options.flushIntervalMs ?? 5000)
  const maxPending = Math.max(batchSize, options.maxPending ?? 100_000)
  const insert = db.prepare(`
    INSERT INTO usage_requests (ts, key_id, route, model, prompt_tokens, eval_tokens, status,
      duration_ms, instance_id)
    VALUES (@ts, @key_id, @route, @model, @prompt_tokens, @eval_tokens, @status, @duration_ms,
      @instance_id)
  `)
  const prune = db.prepare('DELETE FROM usage_requests WHERE ts < ?')

  let buffer: Row[] = []
  let timer: Timer | undefined
  let sizeFlushQueued = false
  let closed = false
  let recorded = 0
  let written = 0
  let flushes = 0
  let dropped = 0

  const flush = (): number => {
    timer?.cancel()
    timer = undefined
    if (buffer.length === 0) return 0
    const batch = buffer
    buffer = []
    try {
      immediate(db, () => {
        for (const row of batch) insert.run(row)
      })
    } catch (error) {
      // Keep the entries for the next try, within bounds.
      buffer = batch.concat(buffer)
      if (buffer.length > maxPending) {
        const excess = buffer.length - maxPending
        buffer.splice(0, excess)
        dropped += excess
      }
      logger.warn(
        { err: error, pending: buffer.length },
        'could not write request usage; will retry',
      )
      schedule()
      return 0
    }
    flushes++
    written += batch.length
    return batch.length
  }

  const schedule = () => {
    if (!timer && !closed) timer = clock.setTimer(intervalMs, () => void flush())
  }

  return {
    record(entry) {
      recorded++
      buffer.push({
        ts: entry.ts ?? clock.now(),
        key_id: entry.keyId,
        route: entry.route,
        model: entry.model,
        prompt_tokens: count(entry.promptTokens),
        eval_tokens: count(entry.evalTokens),
        status: Math.trunc(entry.status),
        duration_ms: Math.max(0, Math.round(entry.durationMs)),
        instance_id: entry.instanceId ?? null,
      })
      if (closed) {
        flush()
        return
      }
      if (buffer.length >= batchSize) {
        // Off the request's path: the caller returns before the batch is written.
        if (!sizeFlushQueued) {
          sizeFlushQueued = true
          setImmediate(() => {
            sizeFlushQueued = false
            if (buffer.length >= batchSize) flush()
          })
        }
        return
      }
      schedule()
    },

    flush,

    stats() {
      return Object.freeze({ recorded, written, flushes, dropped, pending: buffer.length })
    },

    totals(range = {}) {
      flush()
      const where: string[] = []
      const params: Record<string, unknown> = {}
      if (range.since !== undefined) {
        where.push('ts >= @since')
        params.since = range.since
      }
      if (range.until !== undefined) {
        where.push('ts < @until')
        params.until = range.until
      }
      if (range.keyId !== undefined) {
        where.push('key_id = @keyId')
        params.keyId = range.keyId
      }
      const filter = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const sums = `COUNT(*) AS requests, COALESCE(SUM(prompt_tokens), 0) AS promptTokens,
        COALESCE(SUM(eval_tokens), 0) AS evalTokens`
      type Sums = { requests: number; promptTokens: number; evalTokens: number }
      return run(db, () => {
        const all = db.prepare(`SELECT ${sums} FROM usage_requests ${filter}`).get(params) as Sums
        const byKey = db
          .prepare(
            `SELECT key_id AS keyId, ${sums} FROM usage_requests ${filter} GROUP BY key_id ORDER BY requests DESC, key_id`,
          )
          .all(params) as (Sums & { keyId: string | null })[]
        const byModel = db
          .prepare(
            `SELECT model, ${sums} FROM usage_requests ${filter} GROUP BY model ORDER BY requests DESC, model`,
          )
          .all(params) as (Sums & { model: string | null })[]
        return Object.freeze({ ...all, byKey, byModel })
      })
    },

    prune(before) {
      flush()
      return immediate(db, () => prune.run(before).changes)
    },

    close() {
      closed = true
      flush()
      timer?.cancel()
      timer = undefined
    },
  }
}
