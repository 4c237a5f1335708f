import { randomUUID } from 'node:crypto'
import { Secret, type Clock } from '../shared/index.js'
import { StoreConflictError } from './errors.js'
import { assertFence, type Fence } from './fence.js'
import { checkInstanceId, fingerprintOf, type InstanceSecrets } from './instance-records.js'
import { immediate, run, type Db } from './sqlite.js'

export const INTENT_STATES = ['pending', 'created', 'abandoned'] as const

/**
 * - `pending`: written before `POST /instance`; the outcome is unknown until the instance is
 *   found (list by the `exollama-intent` label) or the attempt is known to have failed.
 * - `created`: the instance exists (its id is recorded).
 * - `abandoned`: no instance came of it (the create failed, or it was given up after a search).
 */
export type IntentState = (typeof INTENT_STATES)[number]

/**
 * A durable record of the decision to create an instance, committed (synchronous=FULL) before
 * the create call. Its id is the `exollama-intent` label, so after a crash the reconciler can
 * find what the call produced; its secrets and certificate are what the user-data carried, so
 * an adopted instance can still be talked to.
 */
export interface Intent {
  readonly id: string
  readonly name: string
  readonly state: IntentState
  /** The lease fencing number the creator held (also an instance label). */
  readonly fencing: number
  readonly zone: string
  readonly instanceType: string
  readonly template: string
  /** The id of the create operation, once the API answered. */
  readonly operationId: string | null
  /** The Exoscale instance id, once known (never the operation id). */
  readonly instanceId: string | null
  readonly tlsCertPem: string | null
  readonly tlsFingerprint: string | null
  readonly secrets: InstanceSecrets | null
  /** Why it was abandoned. */
  readonly reason: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

export interface IntentInput {
  readonly name: string
  readonly zone: string
  readonly instanceType: string
  readonly template: string
  readonly tlsCertPem?: string
  readonly secrets?: InstanceSecrets
}

export interface IntentRepository {
  /**
   * Records a pending intent, in one BEGIN IMMEDIATE transaction that first checks `fence`
   * (LeaseLostError when the caller is no longer the leader). Returns it with a new UUID.
   */
  create(input: IntentInput, fence: Fence): Intent
  /** Notes the create operation's id (the intent stays pending). */
  setOperation(id: string, operationId: string): Intent
  /** pending → created, with the instance id. Repeating it with the same id is a no-op. */
  markCreated(id: string, result: { instanceId: string; operationId?: string }): Intent
  /** pending → abandoned, with a one-line reason. */
  markAbandoned(id: string, reason: string): Intent
  get(id: string): Intent | null
  /** Newest first. */
  list(filter?: { name?: string; state?: IntentState; limit?: number }): Intent[]
}

interface Row {
  id: string
  name: string
  state: string
  fencing: number
  zone: string
  instance_type: string
  template: string
  operation_id: string | null
  instance_id: string | null
  tls_cert_pem: string | null
  tls_fingerprint: string | null
  ollama_key: string | null
  tls_key_pem: string | null
  reason: string | null
  created_at: number
  updated_at: number
}

function toIntent(row: Row): Intent {
  return Object.freeze({
    id: row.id,
    name: row.name,
    state: row.state as IntentState,
    fencing: row.fencing,
    zone: row.zone,
    instanceType: row.instance_type,
    template: row.template,
    operationId: row.operation_id,
    instanceId: row.instance_id,
    tlsCertPem: row.tls_cert_pem,
    tlsFingerprint: row.tls_fingerprint,
    secrets:
      row.ollama_key !== null && row.tls_key_pem !== null
        ? Object.freeze({
            ollamaKey: new Secret(row.ollama_key),
            tlsKeyPem: new Secret(row.tls_key_pem),
          })
        : null,
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  })
}

export function createIntentRepository(db: Db, clock: Clock): IntentRepository {
  const select = db.prepare('SELECT * FROM intents WHERE id = ?')
  const insert = db.prepare(`
    INSERT INTO intents (id, name, state, fencing, zone, instance_type, template, tls_cert_pem,
      tls_fingerprint, ollama_key, tls_key_pem, created_at, updated_at)
    VALUES (@id, @name, 'pending', @fencing, @zone, @instance_type, @template, @tls_cert_pem,
      @tls_fingerprint, @ollama_key, @tls_key_pem, @now, @now)
  `)
  const update = db.prepare(`
    UPDATE intents SET state = @state, operation_id = @operation_id, instance_id = @instance_id,
      reason = @reason, updated_at = @updated_at WHERE id = @id
  `)

  const load = (id: string): Row => {
    const row = select.get(id) as Row | undefined
    if (!row) throw new StoreConflictError('intent_not_found', `no intent ${id}`)
    return row
  }

  const save = (row: Row): Intent => {
    const next = { ...row, updated_at: clock.now() }
    update.run(next)
    return toIntent(next)
  }

  return {
    create(input, fence) {
      const fingerprint = input.tlsCertPem === undefined ? null : fingerprintOf(input.tlsCertPem)
      return immediate(db, () => {
        const now = clock.now()
        assertFence(db, fence, now)
        const id = randomUUID()
        insert.run({
          id,
          name: input.name,
          fencing: fence.fencing,
          zone: input.zone,
          instance_type: input.instanceType,
          template: input.template,
          tls_cert_pem: input.tlsCertPem ?? null,
          tls_fingerprint: fingerprint,
          ollama_key: input.secrets?.ollamaKey.reveal() ?? null,
          tls_key_pem: input.secrets?.tlsKeyPem.reveal() ?? null,
          now,
        })
        return toIntent(select.get(id) as Row)
      })
    },

    setOperation(id, operationId) {
      return immediate(db, () => {
        const row = load(id)
        if (row.state !== 'pending') {
          throw new StoreConflictError(
            'intent_state_conflict',
            `intent ${id} is ${row.state}; an operation can only be set while pending`,
          )
        }
        return save({ ...row, operation_id: operationId })
      })
    },

    markCreated(id, result) {
      checkInstanceId(result.instanceId)
      return immediate(db, () => {
        const row = load(id)
        if (row.state === 'created' && row.instance_id === result.instanceId) return toIntent(row)
        if (row.state !== 'pending') {
          throw new StoreConflictError(
            'intent_state_conflict',
            `intent ${id} is ${row.state} (instance ${row.instance_id ?? 'none'}); cannot mark it created with ${result.instanceId}`,
          )
        }
        return save({
          ...row,
          state: 'created',
          instance_id: result.instanceId,
          operation_id: result.operationId ?? row.operation_id,
        })
      })
    },

    markAbandoned(id, reason) {
      return immediate(db, () => {
        const row = load(id)
        if (row.state !== 'pending') {
          throw new StoreConflictError(
            'intent_state_conflict',
            `intent ${id} is ${row.state}; only a pending intent can be abandoned`,
          )
        }
        return save({ ...row, state: 'abandoned', reason: reason.split('\n')[0] ?? '' })
      })
    },

    get(id) {
      return run(db, () => {
        const row = select.get(id) as Row | undefined
        return row ? toIntent(row) : null
      })
    },

    list(filter = {}) {
      const where: string[] = []
      const params: Record<string, unknown> = { limit: Math.min(filter.limit ?? 100, 10_000) }
      if (filter.name !== undefined) {
        where.push('name = @name')
        params.name = filter.name
      }
      if (filter.state !== undefined) {
        where.push('state = @state')
        params.state = filter.state
      }
      const sql = `SELECT * FROM intents ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, rowid DESC LIMIT @limit`
      return run(db, () => (db.prepare(sql).all(params) as Row[]).map(toIntent))
    },
  }
}
