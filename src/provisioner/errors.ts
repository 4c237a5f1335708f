import { ExollamaError, type ErrorKind } from '../shared/index.js'

/** Stable codes of the provisioner's own errors. */
export const PROVISIONER_ERROR_CODES = [
  /** The instance was not ready within the wake timeout (it was destroyed). */
  'wake_timeout',
  /** The instance reported a failed boot (it was destroyed). */
  'boot_failed',
  /** Ollama on the instance is older than EXOLLAMA_MIN_OLLAMA_VERSION. */
  'vm_ollama_too_old',
  /** A preloaded model (EXOLLAMA_MODEL) could not be pulled. */
  'model_pull_failed',
  /** The instance refused the key (it was not created with the key we hold). */
  'instance_key_rejected',
  /** The instance answered something that is not the exollama recipe's API. */
  'instance_bad_answer',
  /** EXOSCALE_ZONE names no zone the API knows. */
  'unknown_zone',
  /** The instance type exists but the organization may not use it. */
  'instance_type_not_authorized',
  /** EXOSCALE_DISK_SIZE is below what the template needs. */
  'disk_too_small',
  /** A setting the recipe cannot use. */
  'invalid_setting',
  /** A create call failed without an answer and no instance carries its intent label. */
  'create_unconfirmed',
  /** Labelled instances exist that this data directory has no keys for. */
  'foreign_instance',
  /** Another process held the lease for too long. */
  'lease_busy',
  /** The provisioner was closed while the call was waiting. */
  'provisioner_closed',
  /** The caller stopped waiting (its signal aborted). */
  'wake_aborted',
] as const

export type ProvisionerErrorCode = (typeof PROVISIONER_ERROR_CODES)[number]

/** An error of the provisioner: one line saying what is wrong and what to do. Never a secret. */
export class ProvisionerError extends ExollamaError {
  override name = 'ProvisionerError'
  declare readonly code: ProvisionerErrorCode

  constructor(
    code: ProvisionerErrorCode,
    message: string,
    options: { kind?: ErrorKind; cause?: unknown } = {},
  ) {
    super(code, message, { kind: options.kind ?? 'internal', cause: options.cause })
  }
}

/** Whether `error` is a ProvisionerError, optionally with one of the given codes. */
export function isProvisionerError(
  error: unknown,
  ...codes: ProvisionerErrorCode[]
): error is ProvisionerError {
  return error instanceof ProvisionerError && (codes.length === 0 || codes.includes(error.code))
}
