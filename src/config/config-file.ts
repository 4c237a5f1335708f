import { readFileSync } from 'node:fs'
import {
  ensurePrivateDir,
  ensurePrivateFile,
  writeFileAtomic,
  type PermissionFix,
} from '../shared/secure-fs.js'
import { ConfigFileError } from './errors.js'
import { SETTING_NAMES } from './settings.js'

/**
 * The config file: `<data dir>/config.json`, a flat JSON object keyed by environment variable
 * names, values in their text form (`{"EXOSCALE_IDLE_TIMEOUT": "600"}`). Secrets set with
 * `config set` or the settings panel are stored here too, which is why the file is 0600 in a
 * 0700 directory (like the exo CLI's exoscale.toml). Writes are atomic (temp file, fsync,
 * rename), so a crash leaves the old or the new file, never a torn one. Two concurrent writers
 * are last-writer-wins.
 */
export type ConfigFileEntries = Readonly<Record<string, unknown>>

export interface ReadConfigFileResult {
  entries: ConfigFileEntries
  /** Set when the file was readable by others and got chmodded to 0600. */
  fixed: PermissionFix | null
}

export interface ConfigFileOptions {
  tooOpen?: 'fix' | 'refuse'
}

/** Reads the config file; a missing file is an empty one. */
export function readConfigFile(
  file: string,
  options: ConfigFileOptions = {},
): ReadConfigFileResult {
  const fixed = ensurePrivateFile(file, options)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: {}, fixed: null }
    throw new ConfigFileError(
      file,
      `cannot be read (${(error as NodeJS.ErrnoException).code})`,
      error,
    )
  }
  if (text.trim() === '') return { entries: {}, fixed }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ConfigFileError(file, 'is not valid JSON', error)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigFileError(file, 'is not a JSON object keyed by setting names')
  }
  return { entries: parsed as ConfigFileEntries, fixed }
}

/**
 * Writes the config file atomically with mode 0600, creating the 0700 data directory if needed.
 * Known settings come first in list order, then any unknown keys found in the file.
 */
export function writeConfigFile(dataDir: string, file: string, entries: ConfigFileEntries): void {
  ensurePrivateDir(dataDir)
  const ordered: Record<string, unknown> = {}
  for (const name of SETTING_NAMES) if (entries[name] !== undefined) ordered[name] = entries[name]
  for (const [key, value] of Object.entries(entries)) {
    if (!(key in ordered) && value !== undefined) ordered[key] = value
  }
  writeFileAtomic(file, `${JSON.stringify(ordered, null, 2)}\n`, 0o600)
}
