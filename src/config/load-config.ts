import { Secret } from '../shared/index.js'
import { ensurePrivateDir } from '../shared/secure-fs.js'
import { readConfigFile } from './config-file.js'
import { InvalidSettingError } from './errors.js'
import { settingNameOf } from './setting-name.js'
import { readExoCliConfig, type CommandRunner } from './exo-cli-config.js'
import { parseSetting } from './parse-setting.js'
import { configFilePath, defaultDataDir, type Environment } from './paths.js'
import {
  SETTING_NAMES,
  isSettingName,
  settingDefinition,
  type SettingName,
  type SettingSource,
  type SettingValue,
  type SettingValues,
} from './settings.js'

/** One setting as resolved: its value and which layer set it. */
export interface ResolvedSetting<N extends SettingName = SettingName> {
  readonly name: N
  readonly value: SettingValue<N>
  /** Canonical text; `[redacted]` for a set secret; null when unset. */
  readonly text: string | null
  readonly source: SettingSource
  /** Set by the environment or the command line: the config file and the panel cannot change it. */
  readonly locked: boolean
  readonly secret: boolean
}

/** The loaded configuration. Frozen: reload to see changes. */
export interface Config {
  /** Absolute data directory (0700): store, secrets, config file. */
  readonly dataDir: string
  /** The config file (it may not exist). */
  readonly configFile: string
  /** The exo CLI file that provided values, if any. */
  readonly exoCliConfigFile: string | null
  readonly values: SettingValues
  readonly settings: { readonly [N in SettingName]: ResolvedSetting<N> }
  /** Things the user should know that did not stop loading (unknown keys, fixed modes). */
  readonly warnings: readonly string[]
}

export interface LoadConfigOptions {
  /** The environment (pass process.env at the edge; tests pass an object). */
  env: Environment
  /** Command-line values, keyed by setting name, in text form (highest precedence). */
  flags?: Partial<Record<SettingName, string | number | boolean>>
  /** Data directory override (like a flag for EXOLLAMA_DATA_DIR). */
  dataDir?: string
  /** Read the exo CLI's exoscale.toml for credentials and zone (default true). */
  exoCli?: boolean
  /** Runs an exo CLI `secretCommand` (tests pass a fake). */
  runCommand?: CommandRunner
  /** A config file or data directory readable by others: fix it (default) or refuse. */
  tooOpen?: 'fix' | 'refuse'
}

interface Candidate {
  source: SettingSource
  raw: unknown
}

function present(raw: string | undefined): raw is string {
  return raw !== undefined && raw !== ''
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof Secret)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

/**
 * Loads the configuration. Precedence, lowest first: defaults ← exo CLI config (key, secret,
 * zone) ← config file ← environment ← flags. Creates the data directory (0700) when missing.
 * Throws InvalidSettingError for a bad value that would be used; a bad value that a higher layer
 * overrides is only a warning. Reads no environment except `options.env`.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const env = options.env
  const flags = options.flags ?? {}
  const warnings: string[] = []

  // The data directory first: the config file lives in it, so the file cannot choose it.
  let dataDirSource: SettingSource = 'default'
  let dataDir = defaultDataDir(env)
  if (options.dataDir !== undefined) {
    dataDir = parseSetting('EXOLLAMA_DATA_DIR', options.dataDir, 'flag')
    dataDirSource = 'flag'
  } else if (flags.EXOLLAMA_DATA_DIR !== undefined) {
    dataDir = parseSetting('EXOLLAMA_DATA_DIR', flags.EXOLLAMA_DATA_DIR, 'flag')
    dataDirSource = 'flag'
  } else if (present(env.EXOLLAMA_DATA_DIR)) {
    dataDir = parseSetting('EXOLLAMA_DATA_DIR', env.EXOLLAMA_DATA_DIR, 'environment')
    dataDirSource = 'env'
  }
  const tooOpen = options.tooOpen ?? 'fix'
  const dir = ensurePrivateDir(dataDir, { tooOpen })
  if (dir.fixed) {
    warnings.push(
      `${dataDir} was accessible to other users (mode 0${dir.fixed.from.toString(8)}); changed it to 0700`,
    )
  }

  const configFile = configFilePath(dataDir)
  const file = readConfigFile(configFile, { tooOpen })
  if (file.fixed) {
    warnings.push(
      `${configFile} was readable by other users (mode 0${file.fixed.from.toString(8)}); changed it to 0600`,
    )
  }
  const fileValues = new Map<SettingName, unknown>()
  for (const [key, raw] of Object.entries(file.entries)) {
    if (!isSettingName(key)) {
      warnings.push(`${configFile}: unknown setting "${key}" ignored`)
    } else if (key === 'EXOLLAMA_DATA_DIR') {
      warnings.push(`${configFile}: EXOLLAMA_DATA_DIR cannot be set in the config file; ignored`)
    } else if (raw !== null && raw !== undefined) {
      fileValues.set(key, raw)
    }
  }

  const exo =
    options.exoCli === false
      ? null
      : readExoCliConfig(env, options.runCommand ? { runCommand: options.runCommand } : {})
  const exoAccount = exo?.account ?? null

  const settings: Record<string, ResolvedSetting> = {}
  const values: Record<string, unknown> = {}
  let usedExoCli = false

  for (const name of SETTING_NAMES) {
    const def = settingDefinition(name)
    if (name === 'EXOLLAMA_DATA_DIR') {
      values[name] = dataDir
      settings[name] = {
        name,
        value: dataDir,
        text: dataDir,
        source: dataDirSource,
        locked: dataDirSource !== 'default',
        secret: false,
      } as ResolvedSetting
      continue
    }

    // Layers from highest to lowest; the first one that parses wins.
    const layers: Candidate[] = []
    const flag = flags[name]
    if (flag !== undefined) layers.push({ source: 'flag', raw: flag })
    if (present(env[name])) layers.push({ source: 'env', raw: env[name] })
    if (fileValues.has(name)) layers.push({ source: 'file', raw: fileValues.get(name) })

    let chosen: { source: SettingSource; value: unknown } | undefined
    for (const [index, layer] of layers.entries()) {
      const origin = layer.source === 'env' ? 'environment' : layer.source
      if (index === 0) {
        // The value that will be used: a bad one stops loading.
        chosen = {
          source: layer.source,
          value: parseSetting(
            name,
            layer.raw,
            origin as 'environment' | 'flag' | 'file',
            configFile,
          ),
        }
        continue
      }
      try {
        parseSetting(name, layer.raw, origin as 'environment' | 'flag' | 'file', configFile)
      } catch (error) {
        if (error instanceof InvalidSettingError) {
          warnings.push(`${error.message} (overridden, so not used)`)
        } else throw error
      }
    }

    if (!chosen && exoAccount) {
      const exoRaw =
        name === 'EXOSCALE_API_KEY'
          ? exoAccount.key
          : name === 'EXOSCALE_API_SECRET'
            ? exoAccount.secret()
            : name === 'EXOSCALE_ZONE'
              ? exoAccount.defaultZone
              : undefined
      if (exoRaw !== undefined) {
        try {
          chosen = { source: 'exo-cli', value: parseSetting(name, exoRaw) }
          usedExoCli = true
        } catch (error) {
          if (!(error instanceof InvalidSettingError)) throw error
          warnings.push(`${exoAccount.file}: ${error.message}; ignored`)
        }
      }
    }

    const source = chosen?.source ?? 'default'
    const value = chosen ? chosen.value : def.default
    values[name] = value
    settings[name] = {
      name,
      value,
      text: value === undefined ? null : def.secret ? '[redacted]' : def.format(value as never),
      source,
      locked: source === 'env' || source === 'flag',
      secret: def.secret,
    } as ResolvedSetting
  }

  if (exo) warnings.push(...exo.warnings)

  return deepFreeze({
    dataDir,
    configFile,
    exoCliConfigFile: usedExoCli && exoAccount ? exoAccount.file : null,
    values: values as unknown as SettingValues,
    settings: settings as unknown as Config['settings'],
    warnings,
  })
}

/** Whether both Exoscale credentials are configured (from any layer). */
export function hasCredentials(config: Config): boolean {
  return (
    config.values.EXOSCALE_API_KEY !== undefined && config.values.EXOSCALE_API_SECRET !== undefined
  )
}

/**
 * One resolved setting of a loaded config. `name` is an environment variable name (any case);
 * throws UnknownSettingError for anything else.
 */
export function getSetting(config: Config, name: string): ResolvedSetting {
  return config.settings[settingNameOf(name)]
}
