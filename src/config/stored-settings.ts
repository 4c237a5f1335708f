import { readConfigFile, writeConfigFile } from './config-file.js'
import { SettingNotStorableError } from './errors.js'
import { formatSetting, parseSetting } from './parse-setting.js'
import { configFilePath, type Environment } from './paths.js'
import { settingNameOf } from './setting-name.js'
import { settingDefinition, type SettingName } from './settings.js'

/** What a stored change did. */
export interface StoredChange {
  readonly name: SettingName
  /** The canonical text stored; `[redacted]` for a secret; null when the setting was removed. */
  readonly text: string | null
  /**
   * Set when the environment also sets this name: the stored value is kept for later but the
   * environment's value stays in force (the panel shows the setting locked).
   */
  readonly shadowedBy: 'env' | null
}

function storableName(input: string): SettingName {
  const name = settingNameOf(input)
  if (name === 'EXOLLAMA_DATA_DIR') {
    throw new SettingNotStorableError(
      name,
      'the config file lives inside the data directory; set EXOLLAMA_DATA_DIR in the environment',
    )
  }
  return name
}

function shadow(env: Environment | undefined, name: SettingName): 'env' | null {
  const raw = env?.[name]
  return raw !== undefined && raw !== '' ? 'env' : null
}

/**
 * Validates and stores several settings at once, all or nothing: when any value is rejected
 * (InvalidSettingError, UnknownSettingError) the file is not touched. A `null` value removes the
 * setting from the file. Pass `env` to learn which changes the environment overrides.
 */
export function setSettings(
  dataDir: string,
  changes: Readonly<Record<string, unknown>>,
  options: { env?: Environment } = {},
): StoredChange[] {
  const file = configFilePath(dataDir)
  const updates = new Map<SettingName, string | null>()
  for (const [input, raw] of Object.entries(changes)) {
    const name = storableName(input)
    if (raw === null) {
      updates.set(name, null)
      continue
    }
    const value = parseSetting(name, raw, 'input')
    updates.set(name, formatSetting(name, value))
  }
  if (updates.size === 0) return []
  const entries: Record<string, unknown> = { ...readConfigFile(file).entries }
  for (const [name, text] of updates) {
    if (text === null) delete entries[name]
    else entries[name] = text
  }
  writeConfigFile(dataDir, file, entries)
  return [...updates].map(([name, text]) => ({
    name,
    text: text === null ? null : settingDefinition(name).secret ? '[redacted]' : text,
    shadowedBy: shadow(options.env, name),
  }))
}

/**
 * Validates and stores one setting in the config file (`exollama config set NAME VALUE`). On a
 * rejected value it throws InvalidSettingError (one line: the setting and the kind of value it
 * takes) and the file is unchanged.
 */
export function setSetting(
  dataDir: string,
  name: string,
  rawValue: unknown,
  options: { env?: Environment } = {},
): StoredChange {
  const [change] = setSettings(dataDir, { [name]: rawValue }, options)
  return change as StoredChange
}

/** Removes a setting from the config file; returns whether it was there. */
export function unsetSetting(dataDir: string, name: string): boolean {
  const setting = storableName(name)
  const file = configFilePath(dataDir)
  const entries: Record<string, unknown> = { ...readConfigFile(file).entries }
  if (!(setting in entries)) return false
  delete entries[setting]
  writeConfigFile(dataDir, file, entries)
  return true
}
