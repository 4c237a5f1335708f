import type { Clock } from '../shared/index.js'
import { StoreInputError } from './errors.js'
import { assertFence, type Fence } from './fence.js'
import { immediate, run, type Db } from './sqlite.js'

/** A held lease. `fencing` grows by one at every change of holder and is never reused. */
export interface Lease {
  readonly name: string
  readonly owner: string
  readonly fencing: number
  readonly acquiredAt: number
  readonly expiresAt: number
}

/**
 * Leases with fencing numbers, correct across processes that share the database file: every
 * change runs in BEGIN IMMEDIATE, so SQLite serialises the read-check-write. A lease is free
 * when it has no owner or its expiry has passed; taking a free lease increments the fencing
 * number. Writes guarded by a lease (intents) re-check it with `assertFence` in their own
 * transaction, and the fencing number goes into the instance labels, so a stale leader's
 * actions can be recognised afterwards.
 */
export interface LeaseRepository {
  /**
   * Takes `name` for `owner` for `ttlMs`, or returns null while another owner holds it.
   * Re-acquiring a lease one already holds extends it and keeps its fencing number.
   */
  acquire(name: string, owner: string, ttlMs: number): Lease | null
  /** Extends a held lease; null when it is no longer this owner's (with this fencing). */
  renew(fence: Fence, ttlMs: number): Lease | null
  /** Gives the lease up; false when it was not held with this fence. */
  release(fence: Fence): boolean
  /** The live holder, or null when the lease is free (never taken, released or expired). */
  current(name: string): Lease | null
  /** Whether `fence` is the live holder now. */
  holds(fence: Fence): boolean
}

interface Row {
  name: string
  owner: string | null
  fencing: number
  acquired_at: number | null
  expires_at: number
}

function toLease(row: Row): Lease {
  return Object.freeze({
    name: row.name,
    owner: row.owner ?? '',
    fencing: row.fencing,
    acquiredAt: row.acquired_at ?? 0,
    expiresAt: row.expires_at,
  })
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new StoreInputError('invalid_lease_ttl', `a lease TTL must be positive (got ${ttlMs})`)
  }
}

export function createLeaseRepository(db: Db, clock: Clock): LeaseRepository {
  const select = db.prepare('SELECT * FROM leases WHERE name = ?')
  const upsert = db.prepare(`
    INSERT INTO leases (name, owner, fencing, acquired_at, expires_at)
    VALUES (@name, @owner, @fencing, @acquired_at, @expires_at)
    ON CONFLICT (name) DO UPDATE SET
      owner = excluded.owner, fencing = excluded.fencing,
      acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
  `)
  const extend = db.prepare(
    'UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND fencing = ?',
  )
  const free = db.prepare(
    'UPDATE leases SET owner = NULL, expires_at = 0 WHERE name = ? AND owner = ? AND fencing = ?',
  )

  return {
    acquire(name, owner, ttlMs) {
      checkTtl(ttlMs)
      if (owner === '')
        throw new StoreInputError('invalid_lease_owner', 'a lease owner is required')
      return immediate(db, () => {
        const now = clock.now()
        const row = select.get(name) as Row | undefined
        const live = row && row.owner !== null && row.expires_at > now
        if (live && row.owner !== owner) return null
        const next: Row =
          live && row
            ? { ...row, expires_at: now + ttlMs }
            : {
                name,
                owner,
                fencing: (row?.fencing ?? 0) + 1,
                acquired_at: now,
                expires_at: now + ttlMs,
              }
        upsert.run(next)
        return toLease(next)
      })
    },

    renew(fence, ttlMs) {
      checkTtl(ttlMs)
      return immediate(db, () => {
        const now = clock.now()
        const row = select.get(fence.lease) as Row | undefined
        // Renewing after expiry is safe while nobody else took the lease: the fencing number
        // would have changed if anyone had.
        if (!row || row.owner !== fence.owner || row.fencing !== fence.fencing) return null
        extend.run(now + ttlMs, fence.lease, fence.owner, fence.fencing)
        return toLease({ ...row, expires_at: now + ttlMs })
      })
    },

    release(fence) {
      return immediate(db, () => free.run(fence.lease, fence.owner, fence.fencing).changes === 1)
    },

    current(name) {
      return run(db, () => {
        const row = select.get(name) as Row | undefined
        if (!row || row.owner === null || row.expires_at <= clock.now()) return null
        return toLease(row)
      })
    },

    holds(fence) {
      try {
        run(db, () => assertFence(db, fence, clock.now()))
        return true
      } catch (error) {
        if ((error as { code?: string }).code === 'lease_lost') return false
        throw error
      }
    },
  }
}
