import type { Config, SettingSource } from '../config/index.js'

/** Where one credential comes from (never its value). */
export interface CredentialSource {
  readonly set: boolean
  /** null when not set. */
  readonly source: Exclude<SettingSource, 'default'> | null
  /** The file it was read from (config file or the exo CLI's exoscale.toml), when from a file. */
  readonly file: string | null
}

export interface CredentialsView {
  readonly api_key: CredentialSource
  readonly api_secret: CredentialSource
  /** One sentence for people. */
  readonly summary: string
}

function sourceOf(
  config: Config,
  name: 'EXOSCALE_API_KEY' | 'EXOSCALE_API_SECRET',
): CredentialSource {
  const setting = config.settings[name]
  const set = setting.value !== undefined
  if (!set || setting.source === 'default') return { set: false, source: null, file: null }
  const file =
    setting.source === 'file'
      ? config.configFile
      : setting.source === 'exo-cli'
        ? config.exoCliConfigFile
        : null
  return { set, source: setting.source, file }
}

function place(source: CredentialSource): string {
  switch (source.source) {
    case 'env':
      return 'the environment'
    case 'flag':
      return 'the command line'
    case 'file':
      return `the config file ${source.file ?? ''}`.trim()
    case 'exo-cli':
      return `the exo CLI config ${source.file ?? ''}`.trim()
    default:
      return 'nowhere'
  }
}

/** Where the Exoscale credentials come from, for `status` and `config list`. */
export function describeCredentials(config: Config): CredentialsView {
  const key = sourceOf(config, 'EXOSCALE_API_KEY')
  const secret = sourceOf(config, 'EXOSCALE_API_SECRET')
  let summary: string
  if (!key.set && !secret.set) {
    summary =
      'none configured (simulated): set EXOSCALE_API_KEY and EXOSCALE_API_SECRET, run "exollama config set EXOSCALE_API_KEY …", or configure the exo CLI'
  } else if (!key.set || !secret.set) {
    const missing = key.set ? 'EXOSCALE_API_SECRET' : 'EXOSCALE_API_KEY'
    const have = key.set ? key : secret
    summary = `incomplete: ${missing} is missing (the other comes from ${place(have)})`
  } else if (key.source === secret.source && key.file === secret.file) {
    summary = `from ${place(key)}`
  } else {
    summary = `key from ${place(key)}, secret from ${place(secret)}`
  }
  return { api_key: key, api_secret: secret, summary }
}
