import { ExollamaError } from '../shared/index.js'

/** Something went wrong in the store (codes: store_open_failed, store_busy, store_failed, …). */
export class StoreError extends ExollamaError {
  override name = 'StoreError'

  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { kind: 'internal', cause })
  }
}

/** The store was written by a newer exollama: refuse rather than guess at its schema. */
export class SchemaTooNewError extends ExollamaError {
  override name = 'SchemaTooNewError'

  constructor(file: string, found: number, known: number) {
    super(
      'store_schema_too_new',
      `the store ${file} has schema version ${found} but this exollama knows only up to ${known}: upgrade exollama (or use another EXOLLAMA_DATA_DIR)`,
      { kind: 'config' },
    )
  }
}

/**
 * The caller no longer holds the lease it presented (expired, released or taken over with a
 * higher fencing number): the write it wanted to make was refused.
 */
export class LeaseLostError extends ExollamaError {
  override name = 'LeaseLostError'
  readonly lease: string
  readonly fencing: number

  constructor(lease: string, fencing: number, why: string) {
    super('lease_lost', `lease "${lease}" (fencing ${fencing}) is no longer held: ${why}`, {
      kind: 'internal',
    })
    this.lease = lease
    this.fencing = fencing
  }
}

/** A record was asked to move to a state it cannot reach from where it is. */
export class StoreConflictError extends ExollamaError {
  override name = 'StoreConflictError'

  constructor(code: string, message: string) {
    super(code, message, { kind: 'internal' })
  }
}

/** A value given to the store is malformed (e.g. an instance id that is not a UUID). */
export class StoreInputError extends ExollamaError {
  override name = 'StoreInputError'

  constructor(code: string, message: string) {
    super(code, message, { kind: 'internal' })
  }
}
