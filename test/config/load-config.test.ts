import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inspect } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  apiEndpointFor,
  ConfigFileError,
  getSetting,
  hasCredentials,
  InvalidSettingError,
  loadConfig,
  publicSettingsView,
  SETTING_NAMES,
  UnknownSettingError,
  type Config,
} from '../../src/config/index.js'
import { Secret } from '../../src/shared/index.js'

const fixtures = path.join(import.meta.dirname, 'fixtures')
let root: string
let home: string

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'exollama-config-'))
  home = path.join(root, 'home')
  mkdirSync(home)
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

const mode = (p: string) => statSync(p).mode & 0o777

/** Puts an exo CLI fixture where the exo CLI would look under $XDG_CONFIG_HOME. */
function installExoConfig(fixture: string): string {
  const dir = path.join(root, 'xdg-config', 'exoscale')
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'exoscale.toml')
  copyFileSync(path.join(fixtures, fixture), file)
  chmodSync(file, 0o600)
  return file
}

function writeConfigJson(dataDir: string, content: unknown): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(dataDir, 'config.json')
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content), {
    mode: 0o600,
  })
  return file
}

describe('loadConfig with nothing configured', () => {
  it('works with HOME pointing at an empty folder: defaults everywhere, data dir created 0700', () => {
    const config = loadConfig({ env: { HOME: home } })
    const dataDir = path.join(home, '.local', 'share', 'exollama')
    expect(config.dataDir).toBe(dataDir)
    expect(config.configFile).toBe(path.join(dataDir, 'config.json'))
    expect(mode(dataDir)).toBe(0o700)
    expect(readdirSync(dataDir)).toEqual([])
    expect(config.warnings).toEqual([])
    expect(config.exoCliConfigFile).toBeNull()
    expect(hasCredentials(config)).toBe(false)
    for (const name of SETTING_NAMES) {
      if (name === 'EXOLLAMA_DATA_DIR') continue
      expect(config.settings[name].source, name).toBe('default')
      expect(config.settings[name].locked, name).toBe(false)
    }
    expect(config.values.EXOSCALE_ZONE).toBe('ch-gva-2')
    expect(config.values.EXOSCALE_IDLE_TIMEOUT).toBe(1800)
    expect(config.values.EXOLLAMA_LISTEN).toEqual({ host: '127.0.0.1', port: 11434 })
    expect(config.values.EXOLLAMA_ALLOWED_CIDRS).toEqual(['0.0.0.0/0'])
    expect(config.values.EXOLLAMA_MODEL).toEqual([])
    expect(config.values.EXOSCALE_API_KEY).toBeUndefined()
    expect(apiEndpointFor(config)).toBe('https://api-ch-gva-2.exoscale.com/v2')
    expect(apiEndpointFor(config, 'de-fra-1')).toBe('https://api-de-fra-1.exoscale.com/v2')
  })

  it('uses an absolute XDG_DATA_HOME and ignores a relative one', () => {
    const xdg = path.join(root, 'xdg-data')
    expect(loadConfig({ env: { HOME: home, XDG_DATA_HOME: xdg } }).dataDir).toBe(
      path.join(xdg, 'exollama'),
    )
    expect(loadConfig({ env: { HOME: home, XDG_DATA_HOME: 'relative/dir' } }).dataDir).toBe(
      path.join(home, '.local', 'share', 'exollama'),
    )
  })

  it('puts everything under EXOLLAMA_DATA_DIR, creating it (and its parents) with 0700', () => {
    const dataDir = path.join(root, 'deep', 'state')
    const config = loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir } })
    expect(config.dataDir).toBe(dataDir)
    expect(config.settings.EXOLLAMA_DATA_DIR).toMatchObject({ source: 'env', locked: true })
    expect(mode(dataDir)).toBe(0o700)
    expect(readdirSync(home)).toEqual([])
  })

  it('reads only the environment it is given, never process.env', () => {
    const saved = process.env.EXOSCALE_ZONE
    process.env.EXOSCALE_ZONE = 'at-vie-1'
    try {
      expect(loadConfig({ env: { HOME: home } }).values.EXOSCALE_ZONE).toBe('ch-gva-2')
    } finally {
      if (saved === undefined) delete process.env.EXOSCALE_ZONE
      else process.env.EXOSCALE_ZONE = saved
    }
  })
})

describe('precedence and sources', () => {
  it('layers default ← exo CLI ← file ← env ← flag, recording each source', () => {
    installExoConfig('exoscale-two-accounts.toml')
    const dataDir = path.join(root, 'data')
    const base = {
      HOME: home,
      XDG_CONFIG_HOME: path.join(root, 'xdg-config'),
      EXOLLAMA_DATA_DIR: dataDir,
    }

    let config = loadConfig({ env: base })
    expect(config.values.EXOSCALE_ZONE).toBe('de-fra-1')
    expect(config.settings.EXOSCALE_ZONE.source).toBe('exo-cli')
    expect(config.settings.EXOSCALE_API_KEY.source).toBe('exo-cli')
    expect(config.values.EXOSCALE_API_SECRET?.reveal()).toBe('work-secret-canary-0001')

    writeConfigJson(dataDir, { EXOSCALE_ZONE: 'at-vie-2', EXOSCALE_IDLE_TIMEOUT: '600' })
    config = loadConfig({ env: base })
    expect(config.settings.EXOSCALE_ZONE).toMatchObject({
      value: 'at-vie-2',
      source: 'file',
      locked: false,
    })
    expect(config.settings.EXOSCALE_IDLE_TIMEOUT).toMatchObject({ value: 600, source: 'file' })
    expect(config.settings.EXOSCALE_API_KEY.source).toBe('exo-cli')

    config = loadConfig({ env: { ...base, EXOSCALE_ZONE: 'ch-dk-2' } })
    expect(config.settings.EXOSCALE_ZONE).toMatchObject({
      value: 'ch-dk-2',
      source: 'env',
      locked: true,
    })

    config = loadConfig({
      env: { ...base, EXOSCALE_ZONE: 'ch-dk-2' },
      flags: { EXOSCALE_ZONE: 'bg-sof-1' },
    })
    expect(config.settings.EXOSCALE_ZONE).toMatchObject({
      value: 'bg-sof-1',
      source: 'flag',
      locked: true,
    })
    expect(config.settings.EXOSCALE_IDLE_TIMEOUT.source).toBe('file')
  })

  it('treats an empty environment variable as unset', () => {
    const config = loadConfig({ env: { HOME: home, EXOSCALE_ZONE: '', EXOSCALE_API_KEY: '' } })
    expect(config.settings.EXOSCALE_ZONE.source).toBe('default')
    expect(config.values.EXOSCALE_API_KEY).toBeUndefined()
  })

  it('takes typed flags (serve --listen) and the dataDir option', () => {
    const dataDir = path.join(root, 'flagged')
    const config = loadConfig({
      env: { HOME: home },
      dataDir,
      flags: { EXOLLAMA_LISTEN: '127.0.0.1:0', EXOSCALE_DISK_SIZE: 80 },
    })
    expect(config.dataDir).toBe(dataDir)
    expect(config.settings.EXOLLAMA_DATA_DIR.source).toBe('flag')
    expect(config.values.EXOLLAMA_LISTEN).toEqual({ host: '127.0.0.1', port: 0 })
    expect(config.values.EXOSCALE_DISK_SIZE).toBe(80)
  })

  it('needs both credentials for hasCredentials', () => {
    expect(hasCredentials(loadConfig({ env: { HOME: home, EXOSCALE_API_KEY: 'EXOabc' } }))).toBe(
      false,
    )
    const both = loadConfig({
      env: { HOME: home, EXOSCALE_API_KEY: 'EXOabc', EXOSCALE_API_SECRET: 'xyz' },
    })
    expect(hasCredentials(both)).toBe(true)
    expect(both.values.EXOSCALE_API_KEY).toBeInstanceOf(Secret)
  })
})

describe('bad values', () => {
  it('stop loading when they come from the environment, in one line', () => {
    let caught: unknown
    try {
      loadConfig({ env: { HOME: home, EXOSCALE_IDLE_TIMEOUT: 'banana' } })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidSettingError)
    expect((caught as Error).message).toBe(
      'EXOSCALE_IDLE_TIMEOUT: "banana" is not valid: expected an integer number of seconds between 5 and 2592000 (set in the environment)',
    )
  })

  it('stop loading when the config file value would be used, naming the file', () => {
    const dataDir = path.join(root, 'data')
    const file = writeConfigJson(dataDir, { EXOLLAMA_IDLE_ACTION: 'explode' })
    expect(() => loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir } })).toThrow(
      `EXOLLAMA_IDLE_ACTION: "explode" is not valid: expected one of destroy, stop (in ${file}; fix it with "exollama config set EXOLLAMA_IDLE_ACTION VALUE")`,
    )
  })

  it('are only a warning when a higher layer overrides them', () => {
    const dataDir = path.join(root, 'data')
    writeConfigJson(dataDir, { EXOLLAMA_IDLE_ACTION: 'explode' })
    const config = loadConfig({
      env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir, EXOLLAMA_IDLE_ACTION: 'stop' },
    })
    expect(config.values.EXOLLAMA_IDLE_ACTION).toBe('stop')
    expect(config.warnings).toHaveLength(1)
    expect(config.warnings[0]).toMatch(/EXOLLAMA_IDLE_ACTION: "explode" is not valid.*overridden/)
  })

  it('stop loading on a bad flag', () => {
    expect(() =>
      loadConfig({ env: { HOME: home }, flags: { EXOLLAMA_LISTEN: 'nowhere' } }),
    ).toThrow(
      /^EXOLLAMA_LISTEN: "nowhere" is not valid: expected HOST:PORT .*\(given on the command line\)$/,
    )
  })

  it('report unknown keys in the file without failing, and ignore EXOLLAMA_DATA_DIR there', () => {
    const dataDir = path.join(root, 'data')
    writeConfigJson(dataDir, {
      EXOSCALE_ZONE: 'de-muc-1',
      EXOSCALE_IDLE_TIMOUT: '60',
      EXOLLAMA_DATA_DIR: '/elsewhere',
    })
    const config = loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir } })
    expect(config.values.EXOSCALE_ZONE).toBe('de-muc-1')
    expect(config.values.EXOSCALE_IDLE_TIMEOUT).toBe(1800)
    expect(config.dataDir).toBe(dataDir)
    expect(config.warnings).toEqual([
      `${path.join(dataDir, 'config.json')}: unknown setting "EXOSCALE_IDLE_TIMOUT" ignored`,
      `${path.join(dataDir, 'config.json')}: EXOLLAMA_DATA_DIR cannot be set in the config file; ignored`,
    ])
  })

  it('reject a config file that is not a JSON object', () => {
    const dataDir = path.join(root, 'data')
    writeConfigJson(dataDir, '{"EXOSCALE_ZONE": ')
    expect(() => loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir } })).toThrow(
      ConfigFileError,
    )
    writeConfigJson(dataDir, '["EXOSCALE_ZONE"]')
    expect(() => loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir } })).toThrow(
      /is not a JSON object/,
    )
  })

  it('name an unknown setting for getSetting and accept any case', () => {
    const config = loadConfig({ env: { HOME: home, EXOSCALE_IDLE_TIMEOUT: '20' } })
    expect(getSetting(config, 'exoscale_idle_timeout')).toMatchObject({
      value: 20,
      source: 'env',
      text: '20',
    })
    expect(() => getSetting(config, 'IDLE')).toThrow(UnknownSettingError)
  })
})

describe('file modes', () => {
  it('fixes a 0644 config file and a 0755 data directory, with warnings', () => {
    const dataDir = path.join(root, 'data')
    const file = writeConfigJson(dataDir, { EXOSCALE_ZONE: 'de-fra-1' })
    chmodSync(file, 0o644)
    chmodSync(dataDir, 0o755)
    const config = loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir } })
    expect(mode(file)).toBe(0o600)
    expect(mode(dataDir)).toBe(0o700)
    expect(config.warnings).toEqual([
      `${dataDir} was accessible to other users (mode 0755); changed it to 0700`,
      `${file} was readable by other users (mode 0644); changed it to 0600`,
    ])
  })

  it('refuses a 0644 config file when asked to refuse, and leaves it alone', () => {
    const dataDir = path.join(root, 'data')
    const file = writeConfigJson(dataDir, {})
    chmodSync(file, 0o644)
    expect(() =>
      loadConfig({ env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir }, tooOpen: 'refuse' }),
    ).toThrow(/accessible to other users \(mode 0644\); run "chmod 0600/)
    expect(mode(file)).toBe(0o644)
  })
})

describe('the exo CLI config', () => {
  const env = () => ({ HOME: home, XDG_CONFIG_HOME: path.join(root, 'xdg-config') })

  it('selects $EXOSCALE_ACCOUNT over defaultaccount', () => {
    installExoConfig('exoscale-two-accounts.toml')
    const config = loadConfig({ env: { ...env(), EXOSCALE_ACCOUNT: 'lab' } })
    expect(config.values.EXOSCALE_API_KEY?.reveal()).toBe('EXOlab00000000000000000000000')
    expect(config.values.EXOSCALE_ZONE).toBe('at-vie-1')
  })

  it('is found under ~/.config when XDG_CONFIG_HOME is unset, and at $EXOSCALE_CONFIG', () => {
    const dir = path.join(home, '.config', 'exoscale')
    mkdirSync(dir, { recursive: true })
    copyFileSync(path.join(fixtures, 'exoscale-two-accounts.toml'), path.join(dir, 'exoscale.toml'))
    const config = loadConfig({ env: { HOME: home } })
    expect(config.exoCliConfigFile).toBe(path.join(dir, 'exoscale.toml'))
    expect(config.values.EXOSCALE_ZONE).toBe('de-fra-1')

    const explicit = path.join(fixtures, 'exoscale-secret-command.toml')
    const other = loadConfig({
      env: { HOME: home, EXOSCALE_CONFIG: explicit },
      runCommand: () => 'cmd-secret\n',
    })
    expect(other.exoCliConfigFile).toBe(explicit)
    expect(other.values.EXOSCALE_ZONE).toBe('ch-dk-2')
  })

  it('runs secretCommand only when no other layer gives the secret', () => {
    installExoConfig('exoscale-secret-command.toml')
    const calls: (readonly string[])[] = []
    const runCommand = (argv: readonly string[]) => {
      calls.push(argv)
      return 'from-password-manager\n'
    }
    const withEnvSecret = loadConfig({
      env: { ...env(), EXOSCALE_API_SECRET: 'env-secret' },
      runCommand,
    })
    expect(calls).toEqual([])
    expect(withEnvSecret.settings.EXOSCALE_API_SECRET.source).toBe('env')
    expect(withEnvSecret.settings.EXOSCALE_API_KEY.source).toBe('exo-cli')

    const config = loadConfig({ env: env(), runCommand })
    expect(calls).toEqual([['pass', 'show', 'exoscale/cmd']])
    expect(config.values.EXOSCALE_API_SECRET?.reveal()).toBe('from-password-manager')
    expect(config.settings.EXOSCALE_API_SECRET.source).toBe('exo-cli')
  })

  it('warns when secretCommand fails, without repeating its output', () => {
    installExoConfig('exoscale-secret-command.toml')
    const config = loadConfig({
      env: env(),
      runCommand: () => {
        throw Object.assign(new Error('leaked-output-canary'), { status: 2 })
      },
    })
    expect(config.values.EXOSCALE_API_SECRET).toBeUndefined()
    expect(config.values.EXOSCALE_API_KEY).toBeDefined()
    expect(hasCredentials(config)).toBe(false)
    expect(config.warnings.join('\n')).toMatch(
      /secretCommand of exo CLI account "cmd" failed \(exit 2\)/,
    )
    expect(config.warnings.join('\n')).not.toContain('leaked-output-canary')
  })

  it('uses the only account when there is no default, and drops an unknown zone with a warning', () => {
    const file = installExoConfig('exoscale-single-no-default.toml')
    const config = loadConfig({ env: env() })
    expect(config.values.EXOSCALE_API_SECRET?.reveal()).toBe('only-secret-canary-0003')
    expect(config.settings.EXOSCALE_ZONE.source).toBe('default')
    expect(config.warnings).toEqual([
      `${file}: EXOSCALE_ZONE: "mars-1" is not valid: expected a zone such as ch-gva-2 (one of at-vie-1, at-vie-2, bg-sof-1, ch-dk-2, ch-gva-2, de-fra-1, de-muc-1, hr-zag-1); ignored`,
    ])
  })

  it('ignores a broken file with a warning', () => {
    const file = installExoConfig('exoscale-broken.toml')
    const config = loadConfig({ env: env() })
    expect(hasCredentials(config)).toBe(false)
    expect(config.warnings).toEqual([`ignored the exo CLI config ${file}: it is not valid TOML`])
  })

  it('warns about an exo config that holds a secret and is world-readable', () => {
    const file = installExoConfig('exoscale-two-accounts.toml')
    chmodSync(file, 0o644)
    const config = loadConfig({ env: env() })
    expect(config.warnings.join('\n')).toContain(`run "chmod 600 ${file}"`)
  })

  it('can be turned off', () => {
    installExoConfig('exoscale-two-accounts.toml')
    expect(hasCredentials(loadConfig({ env: env(), exoCli: false }))).toBe(false)
  })
})

describe('the loaded config', () => {
  function canaryConfig(): Config {
    installExoConfig('exoscale-two-accounts.toml')
    const dataDir = path.join(root, 'data')
    writeConfigJson(dataDir, { EXOSCALE_OLLAMA_KEY: 'file-ollama-key-canary-0004' })
    return loadConfig({
      env: {
        HOME: home,
        XDG_CONFIG_HOME: path.join(root, 'xdg-config'),
        EXOLLAMA_DATA_DIR: dataDir,
        EXOSCALE_API_SECRET: 'env-secret-canary-0005',
      },
    })
  }

  it('is deeply frozen', () => {
    const config = canaryConfig()
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.values)).toBe(true)
    expect(Object.isFrozen(config.values.EXOLLAMA_ALLOWED_CIDRS)).toBe(true)
    expect(Object.isFrozen(config.settings.EXOSCALE_ZONE)).toBe(true)
    expect(() => {
      ;(config.values as { EXOSCALE_ZONE: string }).EXOSCALE_ZONE = 'de-fra-1'
    }).toThrow(TypeError)
  })

  it('never shows a secret in JSON, inspect or warnings', () => {
    const config = canaryConfig()
    expect(config.values.EXOSCALE_API_SECRET?.reveal()).toBe('env-secret-canary-0005')
    expect(config.values.EXOSCALE_OLLAMA_KEY?.reveal()).toBe('file-ollama-key-canary-0004')
    const dumps = [
      JSON.stringify(config),
      inspect(config, { depth: 10 }),
      JSON.stringify(publicSettingsView(config)),
      config.warnings.join('\n'),
    ]
    for (const dump of dumps) {
      expect(dump).not.toMatch(/canary/)
      expect(dump).not.toContain('EXOwork0000000000000000000000')
    }
  })

  it('gives the public view: secrets only as {set, locked}, the rest with value and source', () => {
    const config = canaryConfig()
    const view = publicSettingsView(config)
    expect(Object.keys(view)).toEqual([...SETTING_NAMES])
    expect(view.EXOSCALE_API_SECRET).toEqual({ set: true, locked: true })
    expect(view.EXOSCALE_API_KEY).toEqual({ set: true, locked: false })
    expect(view.EXOSCALE_OLLAMA_KEY).toEqual({ set: true, locked: false })
    expect(view.EXOSCALE_ZONE).toEqual({
      value: 'de-fra-1',
      text: 'de-fra-1',
      source: 'exo-cli',
      locked: false,
      default: 'ch-gva-2',
    })
    expect(view.EXOSCALE_IDLE_TIMEOUT).toMatchObject({ value: 1800, source: 'default' })
    expect(view.EXOLLAMA_LISTEN).toMatchObject({ value: '127.0.0.1:11434' })
    expect(view.EXOLLAMA_ALLOWED_CIDRS).toMatchObject({ value: ['0.0.0.0/0'] })
    expect(view.EXOLLAMA_PRICE_PER_HOUR).toMatchObject({ value: null, text: null })
    expect(view.EXOLLAMA_DATA_DIR).toMatchObject({ value: path.join(root, 'data'), locked: true })

    const empty = publicSettingsView(loadConfig({ env: { HOME: home } }))
    expect(empty.EXOSCALE_API_KEY).toEqual({ set: false, locked: false })
  })
})
