import { UserError } from '../shared/index.js'

/** Where a rejected value came from, for the hint at the end of the message. */
export type ValueOrigin = 'input' | 'environment' | 'flag' | 'file'

const MAX_SHOWN = 60

/** The value as it may appear in a message: quoted, one line, shortened. */
export function quoteValue(raw: string): string {
  const short = raw.length > MAX_SHOWN ? `${raw.slice(0, MAX_SHOWN)}…` : raw
  // JSON quoting escapes newlines and control characters, so the message stays on one line.
  return JSON.stringify(short)
}

/**
 * A setting got a value it does not accept. The message is exactly one line naming the setting
 * and the kind of value expected, e.g.
 * `EXOSCALE_IDLE_TIMEOUT: "banana" is not valid: expected an integer number of seconds`.
 * Secret values are never repeated.
 */
export class InvalidSettingError extends UserError {
  override name = 'InvalidSettingError'
  readonly setting: string
  readonly expected: string
  readonly origin: ValueOrigin

  constructor(options: {
    setting: string
    raw: string
    expected: string
    secret: boolean
    origin?: ValueOrigin
    where?: string
  }) {
    const shown = options.secret ? 'the value' : quoteValue(options.raw)
    const origin = options.origin ?? 'input'
    const suffix =
      origin === 'environment'
        ? ' (set in the environment)'
        : origin === 'flag'
          ? ' (given on the command line)'
          : origin === 'file'
            ? ` (in ${options.where ?? 'the config file'}; fix it with "exollama config set ${options.setting} VALUE")`
            : ''
    super(
      'invalid_setting',
      `${options.setting}: ${shown} is not valid: expected ${options.expected}${suffix}`,
    )
    this.setting = options.setting
    this.expected = options.expected
    this.origin = origin
  }
}

/** A name that is not one of the settings. */
export class UnknownSettingError extends UserError {
  override name = 'UnknownSettingError'
  readonly setting: string

  constructor(setting: string) {
    super(
      'unknown_setting',
      `unknown setting ${quoteValue(setting)}: run "exollama config list" to see the settings (names are environment variable names such as EXOSCALE_IDLE_TIMEOUT)`,
    )
    this.setting = setting
  }
}

/** A setting that cannot live in the config file (EXOLLAMA_DATA_DIR: the file is inside it). */
export class SettingNotStorableError extends UserError {
  override name = 'SettingNotStorableError'

  constructor(setting: string, why: string) {
    super('setting_not_storable', `${setting} cannot be stored in the config file: ${why}`)
  }
}

/** The config file exists but is not a JSON object. */
export class ConfigFileError extends UserError {
  override name = 'ConfigFileError'
  readonly path: string

  constructor(path: string, problem: string, cause?: unknown) {
    super(
      'config_file_invalid',
      `the config file ${path} ${problem}; fix or delete it (settings are also read from the environment)`,
      { cause },
    )
    this.path = path
  }
}
