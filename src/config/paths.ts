import os from 'node:os'
import path from 'node:path'

/** The environment as the config loader sees it (process.env or a test's object). */
export type Environment = Readonly<Record<string, string | undefined>>

/** The user's home: $HOME when set (it may be an empty folder), else the OS account's home. */
export function homeDir(env: Environment): string {
  const home = env.HOME
  return home && home.trim() !== '' ? home : os.homedir()
}

/** An XDG base directory variable, honoured only when absolute (as the spec requires). */
function xdg(env: Environment, name: 'XDG_DATA_HOME' | 'XDG_CONFIG_HOME'): string | undefined {
  const value = env[name]
  return value && path.isAbsolute(value) ? value : undefined
}

/**
 * Where state lives when EXOLLAMA_DATA_DIR is not set: `$XDG_DATA_HOME/exollama`, else
 * `~/.local/share/exollama`.
 */
export function defaultDataDir(env: Environment): string {
  const base = xdg(env, 'XDG_DATA_HOME') ?? path.join(homeDir(env), '.local', 'share')
  return path.join(base, 'exollama')
}

/** The config file inside the data directory. */
export const CONFIG_FILE_NAME = 'config.json'

export function configFilePath(dataDir: string): string {
  return path.join(dataDir, CONFIG_FILE_NAME)
}

/**
 * Where the exo CLI keeps `exoscale.toml`, in the order it looks (exoscale/cli cmd/root.go):
 * `$EXOSCALE_CONFIG` alone when set; else the OS config dir (`$XDG_CONFIG_HOME` or `~/.config`,
 * `~/Library/Application Support` on macOS) + `/exoscale`, then `~/.exoscale`, then `~`.
 */
export function exoCliConfigCandidates(env: Environment): string[] {
  const explicit = env.EXOSCALE_CONFIG
  if (explicit && explicit.trim() !== '') return [path.resolve(explicit)]
  const home = homeDir(env)
  const configHome =
    xdg(env, 'XDG_CONFIG_HOME') ??
    (process.platform === 'darwin'
      ? path.join(home, 'Library', 'Application Support')
      : path.join(home, '.config'))
  return [
    path.join(configHome, 'exoscale', 'exoscale.toml'),
    path.join(home, '.exoscale', 'exoscale.toml'),
    path.join(home, 'exoscale.toml'),
  ]
}
