import { Secret } from '../shared/index.js'
import { formatListenAddress, type ListenAddress } from './listen-address.js'
import type { Config } from './load-config.js'
import {
  SETTING_NAMES,
  settingDefinition,
  type SettingEffect,
  type SettingKind,
  type SettingName,
  type SettingSource,
} from './settings.js'

/** A secret as the outside sees it: whether it is set and whether the environment locks it. */
export interface PublicSecretSetting {
  readonly set: boolean
  readonly locked: boolean
}

/** A plain setting as the outside sees it. */
export interface PublicPlainSetting {
  /** JSON form: number, boolean, string, or an array of strings for lists; null when unset. */
  readonly value: number | boolean | string | readonly string[] | null
  /** The text form (`config set NAME TEXT` takes the same); null when unset. */
  readonly text: string | null
  readonly source: SettingSource
  /** Set by the environment or the command line: cannot be changed from the panel. */
  readonly locked: boolean
  readonly default: string | null
}

export type PublicSetting = PublicSecretSetting | PublicPlainSetting

/** Every setting keyed by environment variable name, as `GET /exollama/v1/settings` returns it. */
export type PublicSettingsView = { readonly [N in SettingName]: PublicSetting }

function jsonValue(value: unknown): PublicPlainSetting['value'] {
  if (value === undefined || value === null) return null
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') {
    return value
  }
  if (Array.isArray(value)) return value.map(String)
  if (typeof value === 'object' && 'host' in value && 'port' in value) {
    return formatListenAddress(value as ListenAddress)
  }
  return String(value)
}

/**
 * The settings as the API and the panel may show them. A secret appears only as
 * `{ set, locked }`: never its value, length or source.
 */
export function publicSettingsView(config: Config): PublicSettingsView {
  const out: Record<string, PublicSetting> = {}
  for (const name of SETTING_NAMES) {
    const setting = config.settings[name]
    const def = settingDefinition(name)
    if (def.secret) {
      out[name] = Object.freeze({
        set: setting.value instanceof Secret,
        locked: setting.locked,
      })
      continue
    }
    out[name] = Object.freeze({
      value: jsonValue(setting.value),
      text: setting.text,
      source: setting.source,
      locked: setting.locked,
      default: def.defaultText,
    })
  }
  return Object.freeze(out) as PublicSettingsView
}

/** What a setting is, for `config list`, help texts and the settings panel. */
export interface SettingDescription {
  readonly name: SettingName
  readonly kind: SettingKind
  readonly description: string
  /** The accepted values in words (also used in error messages). */
  readonly expected: string
  readonly default: string | null
  readonly secret: boolean
  readonly restart: boolean
  readonly effect: SettingEffect
  readonly choices: readonly string[] | null
  readonly unit: string | null
}

/** Every setting's description, in list order. */
export function describeSettings(): readonly SettingDescription[] {
  return Object.freeze(
    SETTING_NAMES.map((name) => {
      const def = settingDefinition(name)
      return Object.freeze({
        name,
        kind: def.kind,
        description: def.description,
        expected: def.expected,
        default: def.defaultText,
        secret: def.secret,
        restart: def.restart,
        effect: def.effect,
        choices: def.choices ?? null,
        unit: def.unit ?? null,
      })
    }),
  )
}
