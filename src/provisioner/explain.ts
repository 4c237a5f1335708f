import { ExoscaleError, isExoscaleError } from '../exoscale/index.js'
import { RecipeSettingError } from '../recipe/index.js'
import { ExollamaError, errorMessage } from '../shared/index.js'
import { ProvisionerError } from './errors.js'

/** The recipe's input names and the settings they come from. */
const RECIPE_SETTING_NAMES: Readonly<Record<string, string>> = {
  ollamaKey: 'EXOSCALE_OLLAMA_KEY',
  preloadModels: 'EXOLLAMA_MODEL',
  allowedCidrs: 'EXOLLAMA_ALLOWED_CIDRS',
  keepAlive: 'EXOLLAMA_KEEP_ALIVE',
  ollamaImageTag: 'EXOLLAMA_OLLAMA_IMAGE_TAG',
  name: 'EXOLLAMA_NAME',
  idleTimeoutS: 'EXOSCALE_IDLE_TIMEOUT',
  maxLifetimeS: 'EXOLLAMA_MAX_LIFETIME',
  watchdogGraceS: 'EXOLLAMA_WATCHDOG_GRACE',
}

/** A recipe input error restated in terms of the setting the user controls. */
export function explainRecipeError(error: unknown): unknown {
  if (!(error instanceof RecipeSettingError)) return error
  const base = error.setting.replace(/\[\d+\]$/, '')
  const setting = RECIPE_SETTING_NAMES[base]
  if (!setting) return error
  const detail = error.message.replace(/^invalid [^:]+: /, '').replace(/; generate one with.*$/, '')
  const fix =
    setting === 'EXOSCALE_OLLAMA_KEY'
      ? 'set it to 16 to 256 random characters from A-Z a-z 0-9 _ - or unset it for a random key per instance'
      : `fix ${setting}`
  return new ProvisionerError('invalid_setting', `${setting} cannot be used: ${detail}: ${fix}`, {
    kind: 'config',
    cause: error,
  })
}

export interface CreateContext {
  zone: string
  instanceType: string
}

/**
 * A create failure restated with the settings that fix it. The code stays the client's (stable
 * for scripts); the message names EXOSCALE_INSTANCE_TYPE / EXOSCALE_ZONE where they help.
 */
export function explainCreateError(error: unknown, ctx: CreateContext): unknown {
  if (!isExoscaleError(error)) return error
  const api = error.apiMessage ?? error.operation?.message
  const said = api ? ` (Exoscale said: ${api})` : ''
  let message: string | undefined
  switch (error.code) {
    case 'exoscale_quota_exceeded':
      message = `Exoscale quota exceeded creating a ${ctx.instanceType} instance in ${ctx.zone}${said}: raise the quota in the Exoscale portal (Organization → Quotas), delete unused instances, or set EXOSCALE_INSTANCE_TYPE to a type within your quota`
      break
    case 'exoscale_capacity_unavailable':
      message = `Exoscale has no capacity for ${ctx.instanceType} in ${ctx.zone} right now${said}: retry later, or set EXOSCALE_ZONE or EXOSCALE_INSTANCE_TYPE to another zone or type`
      break
    default:
      return error
  }
  return new ExoscaleError(error.code, message, {
    status: error.status,
    method: error.method,
    path: error.path,
    requestId: error.requestId,
    apiMessage: error.apiMessage,
    operation: error.operation,
    cause: error,
  })
}

/** Whether a failed create call may nevertheless have created the instance. */
export function isAmbiguousCreateFailure(error: unknown): boolean {
  return isExoscaleError(
    error,
    'exoscale_server_error',
    'exoscale_network',
    'exoscale_operation_timeout',
  )
}

/** Failures worth another try while nothing has been created yet (the API blipped). */
export function isTransientCloudFailure(error: unknown): boolean {
  return isExoscaleError(
    error,
    'exoscale_server_error',
    'exoscale_network',
    'exoscale_rate_limited',
  )
}

/** `{ code, message }` of anything thrown, for events and the status object. */
export function errorSummary(error: unknown): { code: string; message: string } {
  if (error instanceof ExollamaError) return { code: error.code, message: error.message }
  return { code: 'internal_error', message: errorMessage(error).split('\n')[0] ?? '' }
}
