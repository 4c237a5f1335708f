import { certificateFingerprint, Secret, type Clock } from '../shared/index.js'
import { StoreInputError } from './errors.js'
import { assertFence, type Fence } from './fence.js'
import { immediate, run, type Db } from './sqlite.js'

/** The states an instance record can be in (the status words of DESIGN §2 minus `absent`). */
export const INSTANCE_STATES = [
  'provisioning',
  'booting',
  'ready',
  'stopping',
  'stopped',
  'destroying',
  'error',
] as const

export type InstanceState = (typeof INSTANCE_STATES)[number]

/**
 * What the gateway needs to talk to its instance after a restart. Kept as Secret so a record
 * can be logged, inspected or serialised without leaking them.
 */
export interface InstanceSecrets {
  /** The key nginx on the instance checks. */
  readonly ollamaKey: Secret
  /** The private key of the instance's TLS certificate (PEM); it also goes into user-data. */
  readonly tlsKeyPem: Secret
}

/** The one current instance for an exollama name (label `exollama-name`). */
export interface InstanceRecord {
  /** The exollama name (EXOLLAMA_NAME), also the instance's name. */
  readonly name: string
  /** The Exoscale instance id (a UUID), never an operation id. */
  readonly instanceId: string
  /** The intent that created it (label `exollama-intent`); null for a record whose intent is gone. */
  readonly intentId: string | null
  readonly zone: string
  readonly instanceType: string
  readonly template: string
  readonly ip: string | null
  readonly state: InstanceState
  readonly createdAt: number
  readonly startedAt: number | null
  /** The instance's self-signed certificate (PEM), pinned by the gateway. */
  readonly tlsCertPem: string
  /** SHA-256 fingerprint of the certificate, as Node prints it ("AB:CD:…"). */
  readonly tlsFingerprint: string
  readonly ollamaVersion: string | null
  readonly updatedAt: number
  readonly secrets: InstanceSecrets
}

/** What `save` takes: the record without `updatedAt`; the fingerprint is computed if absent. */
export type InstanceInput = Omit<
  InstanceRecord,
  'updatedAt' | 'tlsFingerprint' | 'intentId' | 'ip' | 'startedAt' | 'ollamaVersion'
> & {
  readonly tlsFingerprint?: string
  readonly intentId?: string | null
  readonly ip?: string | null
  readonly startedAt?: number | null
  readonly ollamaVersion?: string | null
}

/** Fields that change during an instance's life. */
export type InstancePatch = Partial<
  Pick<InstanceRecord, 'ip' | 'state' | 'startedAt' | 'ollamaVersion' | 'instanceId'>
>

export interface InstanceRepository {
  get(name: string): InstanceRecord | null
  list(): InstanceRecord[]
  /**
   * Creates or replaces the record for `input.name`. With a fence, refuses (LeaseLostError)
   * unless the caller still holds that lease.
   */
  save(input: InstanceInput, fence?: Fence): InstanceRecord
  /** Changes some fields; null when there is no record for `name`. */
  update(name: string, patch: InstancePatch, fence?: Fence): InstanceRecord | null
  /** Deletes the record (and its secrets); false when there was none. */
  remove(name: string, fence?: Fence): boolean
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Throws unless `id` looks like an Exoscale resource id (UUID). */
export function checkInstanceId(id: string): void {
  if (!UUID.test(id)) {
    throw new StoreInputError(
      'invalid_instance_id',
      `"${id.slice(0, 80)}" is not an Exoscale instance id (a UUID)`,
    )
  }
}

function checkState(state: string): asserts state is InstanceState {
  if (!(INSTANCE_STATES as readonly string[]).includes(state)) {
    throw new StoreInputError('invalid_instance_state', `"${state}" is not an instance state`)
  }
}

/**
 * The fingerprint of `certPem`, checked against `given` when there is one. A record whose
 * fingerprint does not match its certificate would pin the wrong thing.
 */
export function fingerprintOf(certPem: string, given?: string): string {
  let computed: string
  try {
    computed = certificateFingerprint(certPem)
  } catch (error) {
    throw new StoreInputError(
      'invalid_certificate',
      `the TLS certificate is not valid PEM (${String(error)})`,
    )
  }
  if (given !== undefined && given.toUpperCase() !== computed) {
    throw new StoreInputError(
      'fingerprint_mismatch',
      `the TLS fingerprint ${given} does not match the certificate (${computed})`,
    )
  }
  return computed
}

interface Row {
  name: string
  instance_id: string
  intent_id: string | null
  zone: string
  instance_type: string
  template: string
  ip: string | null
  state: string
  created_at: number
  started_at: number | null
  tls_cert_pem: string
  tls_fingerprint: string
  ollama_key: string
  tls_key_pem: string
  ollama_version: string | null
  updated_at: number
}

function toRecord(row: Row): InstanceRecord {
  return Object.freeze({
    name: row.name,
    instanceId: row.instance_id,
    intentId: row.intent_id,
    zone: row.zone,
    instanceType: row.instance_type,
    template: row.template,
    ip: row.ip,
    state: row.state as InstanceState,
    createdAt: row.created_at,
    startedAt: row.started_at,
    tlsCertPem: row.tls_cert_pem,
    tlsFingerprint: row.tls_fingerprint,
    ollamaVersion: row.ollama_version,
    updatedAt: row.updated_at,
    secrets: Object.freeze({
      ollamaKey: new Secret(row.ollama_key),
      tlsKeyPem: new Secret(row.tls_key_pem),
    }),
  })
}

export function createInstanceRepository(db: Db, clock: Clock): InstanceRepository {
  const select = db.prepare('SELECT * FROM instances WHERE name = ?')
  const selectAll = db.prepare('SELECT * FROM instances ORDER BY name')
  const upsert = db.prepare(`
    INSERT INTO instances (name, instance_id, intent_id, zone, instance_type, template, ip, state,
      created_at, started_at, tls_cert_pem, tls_fingerprint, ollama_key, tls_key_pem,
      ollama_version, updated_at)
    VALUES (@name, @instance_id, @intent_id, @zone, @instance_type, @template, @ip, @state,
      @created_at, @started_at, @tls_cert_pem, @tls_fingerprint, @ollama_key, @tls_key_pem,
      @ollama_version, @updated_at)
    ON CONFLICT (name) DO UPDATE SET
      instance_id = excluded.instance_id, intent_id = excluded.intent_id, zone = excluded.zone,
      instance_type = excluded.instance_type, template = excluded.template, ip = excluded.ip,
      state = excluded.state, created_at = excluded.created_at, started_at = excluded.started_at,
      tls_cert_pem = excluded.tls_cert_pem, tls_fingerprint = excluded.tls_fingerprint,
      ollama_key = excluded.ollama_key, tls_key_pem = excluded.tls_key_pem,
      ollama_version = excluded.ollama_version, updated_at = excluded.updated_at
  `)
  const remove = db.prepare('DELETE FROM instances WHERE name = ?')

  const guard = (fence: Fence | undefined) => {
    if (fence) assertFence(db, fence, clock.now())
  }

  return {
    get(name) {
      return run(db, () => {
        const row = select.get(name) as Row | undefined
        return row ? toRecord(row) : null
      })
    },

    list() {
      return run(db, () => (selectAll.all() as Row[]).map(toRecord))
    },

    save(input, fence) {
      checkInstanceId(input.instanceId)
      checkState(input.state)
      const fingerprint = fingerprintOf(input.tlsCertPem, input.tlsFingerprint)
      return immediate(db, () => {
        guard(fence)
        const row: Row = {
          name: input.name,
          instance_id: input.instanceId,
          intent_id: input.intentId ?? null,
          zone: input.zone,
          instance_type: input.instanceType,
          template: input.template,
          ip: input.ip ?? null,
          state: input.state,
          created_at: input.createdAt,
          started_at: input.startedAt ?? null,
          tls_cert_pem: input.tlsCertPem,
          tls_fingerprint: fingerprint,
          ollama_key: input.secrets.ollamaKey.reveal(),
          tls_key_pem: input.secrets.tlsKeyPem.reveal(),
          ollama_version: input.ollamaVersion ?? null,
          updated_at: clock.now(),
        }
        upsert.run(row)
        return toRecord(row)
      })
    },

    update(name, patch, fence) {
      if (patch.instanceId !== undefined) checkInstanceId(patch.instanceId)
      if (patch.state !== undefined) checkState(patch.state)
      return immediate(db, () => {
        guard(fence)
        const row = select.get(name) as Row | undefined
        if (!row) return null
        const next: Row = {
          ...row,
          ...(patch.instanceId !== undefined ? { instance_id: patch.instanceId } : {}),
          ...(patch.ip !== undefined ? { ip: patch.ip } : {}),
          ...(patch.state !== undefined ? { state: patch.state } : {}),
          ...(patch.startedAt !== undefined ? { started_at: patch.startedAt } : {}),
          ...(patch.ollamaVersion !== undefined ? { ollama_version: patch.ollamaVersion } : {}),
          updated_at: clock.now(),
        }
        upsert.run(next)
        return toRecord(next)
      })
    },

    remove(name, fence) {
      return immediate(db, () => {
        guard(fence)
        return remove.run(name).changes === 1
      })
    },
  }
}
