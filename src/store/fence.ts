import { LeaseLostError } from './errors.js'
import type { Db } from './sqlite.js'

/**
 * Proof that the caller holds a lease: its name, the owner that acquired it and the fencing
 * number it got. Writes that must only come from the current leader take a Fence and check it
 * in the same transaction (so the check and the write cannot be separated by a takeover).
 */
export interface Fence {
  readonly lease: string
  readonly owner: string
  readonly fencing: number
}

interface LeaseRow {
  owner: string | null
  fencing: number
  expires_at: number
}

/** Throws LeaseLostError unless `fence` is the live holder at `now`. Call inside a transaction. */
export function assertFence(db: Db, fence: Fence, now: number): void {
  const row = db
    .prepare('SELECT owner, fencing, expires_at FROM leases WHERE name = ?')
    .get(fence.lease) as LeaseRow | undefined
  if (!row) throw new LeaseLostError(fence.lease, fence.fencing, 'it was never acquired')
  if (row.fencing !== fence.fencing) {
    throw new LeaseLostError(
      fence.lease,
      fence.fencing,
      `another owner holds fencing ${row.fencing} now`,
    )
  }
  if (row.owner !== fence.owner) {
    throw new LeaseLostError(fence.lease, fence.fencing, 'it was released')
  }
  if (row.expires_at <= now) throw new LeaseLostError(fence.lease, fence.fencing, 'it expired')
}
