import { ExollamaError, UserError } from '../shared/errors.js'

/** Stable codes of the recipe's errors. */
export const RECIPE_ERROR_CODES = {
  invalidSetting: 'recipe_invalid_setting',
  unsupportedTemplate: 'recipe_unsupported_template',
  userDataTooLarge: 'user_data_too_large',
} as const

/**
 * A recipe input is unusable: bad characters, out of range, not a certificate. `setting` names
 * the input (`ollamaKey`, `preloadModels[1]`, …). The message never contains a secret value.
 */
export class RecipeSettingError extends UserError {
  override name = 'RecipeSettingError'
  readonly setting: string

  constructor(setting: string, message: string, cause?: unknown) {
    super(RECIPE_ERROR_CODES.invalidSetting, `invalid ${setting}: ${message}`, { cause })
    this.setting = setting
  }
}

/** The template name is not one of the Ubuntu releases the recipe supports. */
export class UnsupportedTemplateError extends UserError {
  override name = 'UnsupportedTemplateError'

  constructor(template: string) {
    super(
      RECIPE_ERROR_CODES.unsupportedTemplate,
      `template ${JSON.stringify(template.slice(0, 120))} is not supported: use "Linux Ubuntu 22.04 LTS 64-bit" or "Linux Ubuntu 24.04 LTS 64-bit"`,
    )
  }
}

/** The encoded user-data exceeds what Exoscale accepts. */
export class UserDataTooLargeError extends ExollamaError {
  override name = 'UserDataTooLargeError'
  readonly size: number
  readonly limit: number

  constructor(size: number, limit: number) {
    super(
      RECIPE_ERROR_CODES.userDataTooLarge,
      `the instance user-data is ${size} base64 characters, over Exoscale's limit of ${limit}; preload fewer models or shorten the allowed CIDR list`,
      { kind: 'config' },
    )
    this.size = size
    this.limit = limit
  }
}
