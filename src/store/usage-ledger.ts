import type { Clock } from '../shared/index.js'
import { StoreInputError } from './errors.js'
import type { Pricing } from './prices.js'
import { immediate, run, type Db } from './sqlite.js'
import { splitByUtcDay, utcDay, utcMonthStart } from './utc-days.js'

/**
 * Instance running time, by instance type and UTC day, priced per running hour. A session is
 * one stretch of running (start → stop or destroy). The provisioner calls `accrue` now and then
 * (and at the end), so a crash loses at most the time since the last call; queries add the live,
 * not yet accrued part of open sessions.
 */
export interface UsageSession {
  readonly id: number
  readonly instanceId: string
  readonly instanceType: string
  readonly startedAt: number
  /** Running time up to here is in the daily ledger. */
  readonly accountedUntil: number
  readonly endedAt: number | null
}

export interface SessionCost {
  readonly instanceId: string
  readonly instanceType: string
  readonly startedAt: number
  readonly endedAt: number | null
  readonly runningMs: number
  /** Null when the type has no known price. */
  readonly cost: number | null
  readonly currency: string
}

export interface UsageRow {
  /** `YYYY-MM-DD` (UTC) for daily rows, null for totals by type. */
  readonly day: string | null
  readonly instanceType: string
  readonly runningMs: number
  readonly hours: number
  readonly cost: number | null
}

export interface UsageTotals {
  readonly fromDay: string
  readonly toDay: string
  readonly runningMs: number
  readonly hours: number
  /** Null when some of the running time is of a type without a known price. */
  readonly cost: number | null
  readonly currency: string
  readonly byType: readonly UsageRow[]
}

export interface UsageLedger {
  readonly currency: string
  /** Opens a session (idempotent: an open one for the same instance is returned as it is). */
  startSession(input: {
    instanceId: string
    instanceType: string
    startedAt?: number
  }): UsageSession
  /** Moves running time of open sessions (one, or all) into the daily ledger; returns ms added. */
  accrue(instanceId?: string, until?: number): number
  /** Accrues up to `endedAt` and closes the session; null when none was open. */
  endSession(instanceId: string, endedAt?: number): UsageSession | null
  openSessions(): UsageSession[]
  /** The open session started last, with its running time and cost so far. */
  currentSession(): SessionCost | null
  /** Running time and cost by type over UTC days `fromDay`..`toDay` (inclusive). */
  totals(range: { fromDay: string; toDay: string }): UsageTotals
  /** This UTC month so far. */
  monthToDate(): UsageTotals
  /** One row per day and type over `fromDay`..`toDay`, oldest first. */
  byDay(range: { fromDay: string; toDay: string }): UsageRow[]
  priceFor(type: string): number | null
}

interface SessionRow {
  id: number
  instance_id: string
  instance_type: string
  started_at: number
  accounted_until: number
  ended_at: number | null
}

const HOUR_MS = 3_600_000
const DAY = /^\d{4}-\d{2}-\d{2}$/

function toSession(row: SessionRow): UsageSession {
  return Object.freeze({
    id: row.id,
    instanceId: row.instance_id,
    instanceType: row.instance_type,
    startedAt: row.started_at,
    accountedUntil: row.accounted_until,
    endedAt: row.ended_at,
  })
}

/** Money rounded to a millionth, so sums do not show float noise. */
function money(value: number): number {
  return Math.round(value * 1e6) / 1e6
}

export function createUsageLedger(db: Db, clock: Clock, pricing: Pricing): UsageLedger {
  const openFor = db.prepare(
    'SELECT * FROM usage_sessions WHERE instance_id = ? AND ended_at IS NULL',
  )
  const openAll = db.prepare(
    'SELECT * FROM usage_sessions WHERE ended_at IS NULL ORDER BY started_at, id',
  )
  const insertSession = db.prepare(`
    INSERT INTO usage_sessions (instance_id, instance_type, started_at, accounted_until)
    VALUES (?, ?, ?, ?)
  `)
  const setAccounted = db.prepare('UPDATE usage_sessions SET accounted_until = ? WHERE id = ?')
  const close = db.prepare('UPDATE usage_sessions SET ended_at = ? WHERE id = ?')
  const addDaily = db.prepare(`
    INSERT INTO usage_daily (day, instance_type, running_ms) VALUES (?, ?, ?)
    ON CONFLICT (day, instance_type) DO UPDATE SET running_ms = running_ms + excluded.running_ms
  `)
  const dailyRange = db.prepare(`
    SELECT day, instance_type, running_ms FROM usage_daily
    WHERE day >= ? AND day <= ? ORDER BY day, instance_type
  `)

  const costOf = (type: string, ms: number): number | null => {
    const price = pricing.priceFor(type)
    return price === null ? null : money((ms / HOUR_MS) * price)
  }

  const accrueRow = (row: SessionRow, until: number): number => {
    const end = Math.max(row.accounted_until, until)
    let added = 0
    for (const [day, ms] of splitByUtcDay(row.accounted_until, end)) {
      addDaily.run(day, row.instance_type, ms)
      added += ms
    }
    if (end !== row.accounted_until) setAccounted.run(end, row.id)
    return added
  }

  const checkRange = (range: { fromDay: string; toDay: string }) => {
    if (!DAY.test(range.fromDay) || !DAY.test(range.toDay)) {
      throw new StoreInputError('invalid_day', 'days are YYYY-MM-DD (UTC)')
    }
  }

  /** Daily rows in range, plus the live part of open sessions (not yet accrued). */
  const rowsIn = (range: { fromDay: string; toDay: string }): Map<string, number> => {
    const map = new Map<string, number>()
    const add = (day: string, type: string, ms: number) => {
      const key = `${day}\u0000${type}`
      map.set(key, (map.get(key) ?? 0) + ms)
    }
    run(db, () => {
      const rows = dailyRange.all(range.fromDay, range.toDay) as {
        day: string
        instance_type: string
        running_ms: number
      }[]
      for (const row of rows) add(row.day, row.instance_type, row.running_ms)
      const now = clock.now()
      for (const session of openAll.all() as SessionRow[]) {
        for (const [day, ms] of splitByUtcDay(session.accounted_until, now)) {
          if (day >= range.fromDay && day <= range.toDay) add(day, session.instance_type, ms)
        }
      }
    })
    return map
  }

  const totals = (range: { fromDay: string; toDay: string }): UsageTotals => {
    checkRange(range)
    const byTypeMs = new Map<string, number>()
    for (const [key, ms] of rowsIn(range)) {
      const type = key.split('\u0000')[1] ?? ''
      byTypeMs.set(type, (byTypeMs.get(type) ?? 0) + ms)
    }
    const byType: UsageRow[] = [...byTypeMs]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([instanceType, runningMs]) =>
        Object.freeze({
          day: null,
          instanceType,
          runningMs,
          hours: runningMs / HOUR_MS,
          cost: costOf(instanceType, runningMs),
        }),
      )
    const runningMs = byType.reduce((sum, row) => sum + row.runningMs, 0)
    const unknown = byType.some((row) => row.cost === null)
    return Object.freeze({
      fromDay: range.fromDay,
      toDay: range.toDay,
      runningMs,
      hours: runningMs / HOUR_MS,
      cost: unknown ? null : money(byType.reduce((sum, row) => sum + (row.cost ?? 0), 0)),
      currency: pricing.currency,
      byType: Object.freeze(byType),
    })
  }

  return {
    currency: pricing.currency,

    startSession(input) {
      return immediate(db, () => {
        const open = openFor.get(input.instanceId) as SessionRow | undefined
        if (open) return toSession(open)
        const startedAt = input.startedAt ?? clock.now()
        const id = Number(
          insertSession.run(input.instanceId, input.instanceType, startedAt, startedAt)
            .lastInsertRowid,
        )
        return toSession({
          id,
          instance_id: input.instanceId,
          instance_type: input.instanceType,
          started_at: startedAt,
          accounted_until: startedAt,
          ended_at: null,
        })
      })
    },

    accrue(instanceId, until) {
      return immediate(db, () => {
        const at = until ?? clock.now()
        const rows =
          instanceId === undefined
            ? (openAll.all() as SessionRow[])
            : ([openFor.get(instanceId)].filter(Boolean) as SessionRow[])
        return rows.reduce((sum, row) => sum + accrueRow(row, at), 0)
      })
    },

    endSession(instanceId, endedAt) {
      return immediate(db, () => {
        const row = openFor.get(instanceId) as SessionRow | undefined
        if (!row) return null
        const at = Math.max(endedAt ?? clock.now(), row.accounted_until)
        accrueRow(row, at)
        close.run(at, row.id)
        return toSession({ ...row, accounted_until: at, ended_at: at })
      })
    },

    openSessions() {
      return run(db, () => (openAll.all() as SessionRow[]).map(toSession))
    },

    currentSession() {
      const sessions = run(db, () => openAll.all() as SessionRow[])
      const last = sessions[sessions.length - 1]
      if (!last) return null
      const runningMs = Math.max(0, clock.now() - last.started_at)
      return Object.freeze({
        instanceId: last.instance_id,
        instanceType: last.instance_type,
        startedAt: last.started_at,
        endedAt: null,
        runningMs,
        cost: costOf(last.instance_type, runningMs),
        currency: pricing.currency,
      })
    },

    totals,

    monthToDate() {
      const now = clock.now()
      return totals({ fromDay: utcDay(utcMonthStart(now)), toDay: utcDay(now) })
    },

    byDay(range) {
      checkRange(range)
      return [...rowsIn(range)]
        .map(([key, runningMs]) => {
          const [day = '', instanceType = ''] = key.split('\u0000')
          return Object.freeze({
            day,
            instanceType,
            runningMs,
            hours: runningMs / HOUR_MS,
            cost: costOf(instanceType, runningMs),
          })
        })
        .sort((a, b) => a.day.localeCompare(b.day) || a.instanceType.localeCompare(b.instanceType))
    },

    priceFor(type) {
      return pricing.priceFor(type)
    },
  }
}
