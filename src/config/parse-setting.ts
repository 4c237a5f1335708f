import { InvalidSettingError, type ValueOrigin } from './errors.js'
import { settingDefinition, type SettingName, type SettingValue } from './settings.js'

const MAX_RAW_LENGTH = 8192

/**
 * The text form of a value found in a JSON config file or an API body: strings as they are,
 * numbers and booleans as their text, arrays of strings joined by commas. Undefined for other
 * shapes (objects, nested arrays, null).
 */
export function textOf(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw)
  if (typeof raw === 'boolean') return String(raw)
  if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return raw.join(',')
  return undefined
}

/**
 * Parses the text form of setting `name`. Throws InvalidSettingError (one line, names the setting
 * and the expected kind of value, never repeats a secret) when the value is not accepted.
 */
export function parseSetting<N extends SettingName>(
  name: N,
  raw: unknown,
  origin: ValueOrigin = 'input',
  where?: string,
): Exclude<SettingValue<N>, undefined> {
  const def = settingDefinition(name)
  const text = textOf(raw)
  const fail = (): never => {
    throw new InvalidSettingError({
      setting: name,
      raw: text ?? (raw === null ? 'null' : typeof raw),
      expected: def.expected,
      secret: def.secret,
      origin,
      ...(where === undefined ? {} : { where }),
    })
  }
  if (text === undefined || text.length > MAX_RAW_LENGTH) return fail()
  const result = def.schema.safeParse(text)
  if (!result.success) return fail()
  return result.data as Exclude<SettingValue<N>, undefined>
}

/** The canonical text of a value of setting `name` (what the config file stores). */
export function formatSetting<N extends SettingName>(
  name: N,
  value: Exclude<SettingValue<N>, undefined>,
): string {
  return settingDefinition(name).format(value)
}
