import { UnknownSettingError } from './errors.js'
import { isSettingName, type SettingName } from './settings.js'

/**
 * The setting named by user input: environment variable names, case-insensitive
 * (`exoscale_idle_timeout` is EXOSCALE_IDLE_TIMEOUT). Throws UnknownSettingError otherwise.
 */
export function settingNameOf(input: string): SettingName {
  const name = input.trim().toUpperCase()
  if (!isSettingName(name)) throw new UnknownSettingError(input)
  return name
}
