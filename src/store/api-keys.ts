import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { Secret, type Clock } from '../shared/index.js'
import { StoreInputError } from './errors.js'
import { immediate, run, type Db } from './sqlite.js'

/** What a key may do: `inference` (the Ollama/OpenAI routes) or also `admin` (model admin, management). */
export const API_KEY_SCOPES = ['inference', 'admin'] as const
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number]

/** Every client key starts with this, so secret scanners can recognise a leaked one. */
export const API_KEY_PREFIX = 'exo_ollama_'

/** A stored key, without its secret (only a SHA-256 digest is stored). */
export interface ApiKeyRecord {
  /** Short public id, shown in lists, logs and usage ("k1a2b3c4d5"). */
  readonly id: string
  readonly name: string
  readonly scopes: readonly ApiKeyScope[]
  readonly createdAt: number
  readonly revokedAt: number | null
}

export interface CreatedApiKey {
  readonly record: ApiKeyRecord
  /** The key itself. It is returned here once and cannot be recovered later. */
  readonly key: Secret
}

/** Who a verified key belongs to. */
export interface VerifiedApiKey {
  readonly id: string
  readonly name: string
  readonly scopes: readonly ApiKeyScope[]
}

/**
 * Client API keys for the gateway. Keys are `exo_ollama_` + 43 base62 characters (256 random
 * bits) + a 6-character CRC32 checksum; only their SHA-256 digest is stored. Several keys can be
 * active at once (rotation: create the new one, move clients, revoke the old one). Verification
 * compares fixed-length digests with timingSafeEqual against every active key, without early
 * exit, and sees keys created or revoked by other processes at once (PRAGMA data_version).
 */
export interface ApiKeyRepository {
  create(input: { name: string; scopes?: readonly ApiKeyScope[] }): CreatedApiKey
  /** Active keys, or all with `includeRevoked`. Oldest first. No secrets. */
  list(options?: { includeRevoked?: boolean }): ApiKeyRecord[]
  /** Revokes by id; returns the revoked record, or null when there is no such active key. */
  revoke(id: string): ApiKeyRecord | null
  /** The key's owner when `presented` is an active key, else null. */
  verify(presented: string | Secret): VerifiedApiKey | null
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const BODY_LENGTH = 43
const CHECKSUM_LENGTH = 6

function base62(value: bigint, length: number): string {
  let out = ''
  let rest = value
  for (let i = 0; i < length; i++) {
    out = BASE62[Number(rest % 62n)] + out
    rest /= 62n
  }
  return out
}

function checksum(body: string): string {
  return base62(BigInt(crc32(body)), CHECKSUM_LENGTH)
}

/** A new random key. 62^43 > 2^256, so all 256 random bits fit in the 43 characters. */
export function generateApiKey(): string {
  const body = base62(BigInt(`0x${randomBytes(32).toString('hex')}`), BODY_LENGTH)
  return `${API_KEY_PREFIX}${body}${checksum(body)}`
}

/** Whether `text` has the form of a key with a valid checksum (not whether it is active). */
export function isWellFormedApiKey(text: string): boolean {
  const expected = API_KEY_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH
  if (text.length !== expected || !text.startsWith(API_KEY_PREFIX)) return false
  const body = text.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + BODY_LENGTH)
  if (![...body].every((c) => BASE62.includes(c))) return false
  return text.endsWith(checksum(body))
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

interface Row {
  id: string
  name: string
  hash: Buffer
  scopes: string
  created_at: number
  revoked_at: number | null
}

function toRecord(row: Row): ApiKeyRecord {
  return Object.freeze({
    id: row.id,
    name: row.name,
    scopes: Object.freeze(JSON.parse(row.scopes) as ApiKeyScope[]),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  })
}

export function createApiKeyRepository(db: Db, clock: Clock): ApiKeyRepository {
  const insert = db.prepare(`
    INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)
  `)
  const selectActive = db.prepare(
    'SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, rowid',
  )
  const selectAll = db.prepare('SELECT * FROM api_keys ORDER BY created_at, rowid')
  const selectId = db.prepare('SELECT * FROM api_keys WHERE id = ?')
  const revoke = db.prepare(
    'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  )

  // Active keys in memory; reloaded when this or another connection changed the database.
  // data_version changes when another connection commits; localChanges counts our own commits.
  let cache:
    | { dataVersion: number; localChanges: number; keys: { hash: Buffer; key: VerifiedApiKey }[] }
    | undefined
  let localChanges = 0
  const active = () => {
    const dataVersion = Number(db.pragma('data_version', { simple: true }))
    if (!cache || cache.dataVersion !== dataVersion || cache.localChanges !== localChanges) {
      const rows = selectActive.all() as Row[]
      cache = {
        dataVersion,
        localChanges,
        keys: rows.map((row) => {
          const record = toRecord(row)
          return {
            hash: Buffer.from(row.hash),
            key: Object.freeze({ id: record.id, name: record.name, scopes: record.scopes }),
          }
        }),
      }
    }
    return cache.keys
  }

  return {
    create(input) {
      const name = input.name.trim()
      if (!/^[^\p{Cc}]{1,64}$/u.test(name)) {
        throw new StoreInputError('invalid_key_name', 'a key name is 1 to 64 printable characters')
      }
      const scopes = [...new Set(input.scopes ?? ['inference'])]
      for (const scope of scopes) {
        if (!(API_KEY_SCOPES as readonly string[]).includes(scope)) {
          throw new StoreInputError(
            'invalid_key_scope',
            `unknown key scope "${scope}" (inference, admin)`,
          )
        }
      }
      const key = generateApiKey()
      return immediate(db, () => {
        let id: string
        do id = `k${randomBytes(5).toString('hex')}`
        while (selectId.get(id))
        const now = clock.now()
        insert.run(id, name, digest(key), JSON.stringify(scopes), now)
        localChanges++
        return Object.freeze({
          record: toRecord({
            id,
            name,
            hash: Buffer.alloc(0),
            scopes: JSON.stringify(scopes),
            created_at: now,
            revoked_at: null,
          }),
          key: new Secret(key),
        })
      })
    },

    list(options = {}) {
      return run(db, () =>
        ((options.includeRevoked ? selectAll : selectActive).all() as Row[]).map(toRecord),
      )
    },

    revoke(id) {
      return immediate(db, () => {
        if (revoke.run(clock.now(), id).changes !== 1) return null
        localChanges++
        return toRecord(selectId.get(id) as Row)
      })
    },

    verify(presented) {
      const text = presented instanceof Secret ? presented.reveal() : presented
      const wanted = digest(text)
      let found: VerifiedApiKey | null = null
      // Compare against every active key: the time spent does not depend on which one matches.
      for (const entry of run(db, active)) {
        if (timingSafeEqual(entry.hash, wanted) && found === null) found = entry.key
      }
      return found
    },
  }
}
