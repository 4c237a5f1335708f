import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/cli/index.js'
import { describeSettings, SETTING_NAMES } from '../../src/config/index.js'
import { hasAnsi, oneJsonObject, runCli, sandbox, type Sandbox } from './helpers/harness.js'

let box: Sandbox
beforeEach(() => (box = sandbox()))
afterEach(() => box.cleanup())

const configFile = () => path.join(box.dataDir, 'config.json')
const readBytes = () => (existsSync(configFile()) ? readFileSync(configFile()) : Buffer.alloc(0))

/** A value each setting accepts, and one it refuses. */
const VALUES: Record<string, { good: string; bad: string }> = {
  EXOSCALE_API_KEY: { good: 'EXOgoodkey0000000000000000', bad: 'EXO key with spaces' },
  EXOSCALE_API_SECRET: { good: 'good-secret-canary-123456', bad: 'secret with spaces' },
  EXOSCALE_API_ENDPOINT: { good: 'http://127.0.0.1:9/v2', bad: 'ftp://api.example.com' },
  EXOSCALE_ZONE: { good: 'de-fra-1', bad: 'mars-1' },
  EXOSCALE_INSTANCE_TYPE: { good: 'gpua5000.small', bad: 'banana.huge' },
  EXOSCALE_TEMPLATE: { good: 'Linux Ubuntu 24.04 LTS 64-bit', bad: '   ' },
  EXOSCALE_DISK_SIZE: { good: '100', bad: '5' },
  EXOSCALE_OLLAMA_KEY: { good: 'ollama-key-canary-0123456789', bad: 'short' },
  EXOSCALE_IDLE_TIMEOUT: { good: '600', bad: 'banana' },
  EXOLLAMA_IDLE_ACTION: { good: 'stop', bad: 'pause' },
  EXOLLAMA_DESTROY_AFTER: { good: '3600', bad: '10' },
  EXOLLAMA_MODEL: { good: 'qwen2.5:0.5b,llama3.2', bad: 'bad model!' },
  EXOLLAMA_WAKE_TIMEOUT: { good: '600', bad: '1' },
  EXOLLAMA_MAX_LIFETIME: { good: '7200', bad: '-5' },
  EXOLLAMA_ALLOWED_CIDRS: { good: '203.0.113.0/24', bad: '300.0.0.0/8' },
  EXOLLAMA_NAME: { good: 'my-llm', bad: 'Bad_Name' },
  EXOLLAMA_LISTEN: { good: '127.0.0.1:8080', bad: 'nohost' },
  EXOLLAMA_OLLAMA_IMAGE_TAG: { good: '0.32.15', bad: 'bad tag' },
  EXOLLAMA_KEEP_ALIVE: { good: '5m', bad: 'forever' },
  EXOLLAMA_MIN_OLLAMA_VERSION: { good: '0.18.0', bad: 'v-one' },
  EXOLLAMA_WATCHDOG_GRACE: { good: '900', bad: '1' },
  EXOLLAMA_MAX_HELD_REQUESTS: { good: '10', bad: '0' },
  EXOLLAMA_MAX_BODY_BYTES: { good: '64MiB', bad: '12' },
  EXOLLAMA_ALLOW_MODEL_ADMIN: { good: 'true', bad: 'maybe' },
  EXOLLAMA_ALLOWED_HOSTS: { good: 'myhost.local', bad: 'a b' },
  EXOLLAMA_ALLOWED_ORIGINS: { good: 'http://localhost:3000', bad: 'not-an-origin' },
  EXOLLAMA_RATE_LIMIT: { good: '60', bad: '-1' },
  EXOLLAMA_CONCURRENCY_LIMIT: { good: '4', bad: 'lots' },
  EXOLLAMA_LOG_LEVEL: { good: 'debug', bad: 'loud' },
  EXOLLAMA_SHUTDOWN_GRACE: { good: '30', bad: '99999' },
  EXOLLAMA_PRICE_PER_HOUR: { good: '0.04', bad: 'free' },
  EXOLLAMA_CURRENCY: { good: 'EUR', bad: 'BTC' },
}

const SECRETS = new Set(
  describeSettings()
    .filter((d) => d.secret)
    .map((d) => d.name),
)

describe('config set', () => {
  it('has a good and a bad value for every storable setting', () => {
    expect(Object.keys(VALUES).sort()).toEqual(
      SETTING_NAMES.filter((n) => n !== 'EXOLLAMA_DATA_DIR').sort(),
    )
  })

  it('stores each setting, and refuses a bad value with one line naming it, leaving the file unchanged byte for byte', async () => {
    for (const d of describeSettings()) {
      if (d.name === 'EXOLLAMA_DATA_DIR') continue
      const { good, bad } = VALUES[d.name] as { good: string; bad: string }
      const ok = await runCli(box, ['config', 'set', d.name, good])
      expect(ok.code, `${d.name}=${good}: ${ok.stderr}`).toBe(0)
      const stored = JSON.parse(readFileSync(configFile(), 'utf8')) as Record<string, string>
      expect(stored[d.name]).toBeDefined()
      const before = readBytes()

      const refused = await runCli(box, ['config', 'set', d.name, bad])
      expect(refused.code, d.name).toBe(EXIT_CODES.config)
      expect(refused.stdout).toBe('')
      const lines = refused.stderr.split('\n').filter(Boolean)
      expect(lines, d.name).toHaveLength(1)
      expect(refused.stderr.endsWith('\n')).toBe(true)
      expect(lines[0]).toContain(d.name)
      expect(lines[0]).toContain(`expected ${d.expected}`)
      if (SECRETS.has(d.name)) expect(refused.stderr).not.toContain(bad)
      expect(readBytes().equals(before), `${d.name}: the file changed`).toBe(true)
    }
  })

  it('rejects EXOSCALE_IDLE_TIMEOUT banana as the design describes', async () => {
    await runCli(box, ['config', 'set', 'EXOSCALE_IDLE_TIMEOUT', '600'])
    const before = readBytes()
    const r = await runCli(box, ['config', 'set', 'EXOSCALE_IDLE_TIMEOUT', 'banana'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(
      /^exollama: EXOSCALE_IDLE_TIMEOUT: "banana" is not valid: expected an integer number of seconds between 5 and 2592000\n$/,
    )
    expect(readBytes().equals(before)).toBe(true)
    const get = await runCli(box, ['config', 'get', 'EXOSCALE_IDLE_TIMEOUT'])
    expect(get.stdout).toBe('600\n')
  })

  it('refuses a bad value with no config file yet and does not create one', async () => {
    const r = await runCli(box, ['config', 'set', 'EXOLLAMA_IDLE_ACTION', 'nap'])
    expect(r.code).toBe(EXIT_CODES.config)
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1)
    expect(existsSync(configFile())).toBe(false)
  })

  it('refuses EXOLLAMA_DATA_DIR and unknown names with one line each', async () => {
    const dataDir = await runCli(box, ['config', 'set', 'EXOLLAMA_DATA_DIR', '/tmp/x'])
    expect(dataDir.code).toBe(EXIT_CODES.config)
    expect(dataDir.stderr.split('\n').filter(Boolean)).toHaveLength(1)
    expect(dataDir.stderr).toContain('EXOLLAMA_DATA_DIR')
    const unknown = await runCli(box, ['config', 'set', 'EXOSCALE_IDLE_TIMOUT', '600'])
    expect(unknown.code).toBe(EXIT_CODES.config)
    expect(unknown.stderr.split('\n').filter(Boolean)).toHaveLength(1)
    expect(unknown.stderr).toContain('exollama config list')
    expect(existsSync(configFile())).toBe(false)
  })

  it('accepts names in any case and values that look like negative numbers', async () => {
    const r = await runCli(box, ['config', 'set', 'exollama_keep_alive', '-1'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(readFileSync(configFile(), 'utf8'))).toEqual({ EXOLLAMA_KEEP_ALIVE: '-1' })
  })

  it('prints the change as one JSON object, a secret only as set', async () => {
    const plain = await runCli(box, ['config', 'set', 'EXOSCALE_ZONE', 'at-vie-2', '--json'])
    expect(plain.code).toBe(0)
    expect(oneJsonObject(plain.stdout)).toEqual({
      name: 'EXOSCALE_ZONE',
      text: 'at-vie-2',
      config_file: configFile(),
      shadowed_by: null,
      effect: 'next-instance',
    })
    const secret = await runCli(box, [
      'config',
      'set',
      'EXOSCALE_API_SECRET',
      'json-secret-canary-99999',
      '--json',
    ])
    expect(oneJsonObject(secret.stdout)).toMatchObject({ name: 'EXOSCALE_API_SECRET', set: true })
    expect(secret.stdout + secret.stderr).not.toContain('json-secret-canary-99999')
  })

  it('reads a secret from stdin with "-", keeping it out of the output', async () => {
    const r = await runCli(box, ['config', 'set', 'EXOSCALE_API_SECRET', '-'], {
      stdin: 'stdin-secret-canary-4242\n',
    })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(readFileSync(configFile(), 'utf8'))).toEqual({
      EXOSCALE_API_SECRET: 'stdin-secret-canary-4242',
    })
    expect(r.stdout + r.stderr).not.toContain('stdin-secret-canary-4242')
  })

  it('warns when the environment overrides the stored value, and still stores it', async () => {
    const r = await runCli(box, ['config', 'set', 'EXOSCALE_IDLE_TIMEOUT', '900'], {
      env: { EXOSCALE_IDLE_TIMEOUT: '60' },
    })
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/EXOSCALE_IDLE_TIMEOUT is also set in the environment, which wins/)
    const get = await runCli(box, ['config', 'get', 'EXOSCALE_IDLE_TIMEOUT'], {
      env: { EXOSCALE_IDLE_TIMEOUT: '60' },
    })
    expect(get.stdout).toBe('60\n')
    expect((await runCli(box, ['config', 'get', 'EXOSCALE_IDLE_TIMEOUT'])).stdout).toBe('900\n')
  })
})

describe('config get / unset', () => {
  it('prints defaults, stored values, and secrets only as set or not set', async () => {
    expect((await runCli(box, ['config', 'get', 'EXOSCALE_ZONE'])).stdout).toBe('ch-gva-2\n')
    expect((await runCli(box, ['config', 'get', 'EXOSCALE_API_SECRET'])).stdout).toBe('not set\n')
    await runCli(box, ['config', 'set', 'EXOSCALE_API_SECRET', 'get-secret-canary-777777'])
    const secret = await runCli(box, ['config', 'get', 'EXOSCALE_API_SECRET'])
    expect(secret.stdout).toBe('set (config file)\n')
    const json = await runCli(box, ['config', 'get', 'exoscale_api_secret', '--json'])
    expect(oneJsonObject(json.stdout)).toEqual({
      name: 'EXOSCALE_API_SECRET',
      secret: true,
      set: true,
      locked: false,
      source: 'file',
    })
    for (const r of [secret, json]) expect(r.stdout + r.stderr).not.toContain('get-secret-canary')
  })

  it('gives a plain setting as JSON with its source and default', async () => {
    const r = await runCli(box, ['config', 'get', 'EXOSCALE_IDLE_TIMEOUT', '--json'], {
      env: { EXOSCALE_IDLE_TIMEOUT: '120' },
    })
    expect(oneJsonObject(r.stdout)).toEqual({
      name: 'EXOSCALE_IDLE_TIMEOUT',
      secret: false,
      value: 120,
      text: '120',
      source: 'env',
      locked: true,
      default: '1800',
    })
  })

  it('says on stderr that an optional setting is not set', async () => {
    const r = await runCli(box, ['config', 'get', 'EXOLLAMA_MODEL'])
    expect(r).toMatchObject({ code: 0, stdout: '' })
    expect(r.stderr).toContain('EXOLLAMA_MODEL is not set')
  })

  it('unsets a stored setting back to its default', async () => {
    await runCli(box, ['config', 'set', 'EXOSCALE_IDLE_TIMEOUT', '600'])
    const r = await runCli(box, ['config', 'unset', 'EXOSCALE_IDLE_TIMEOUT', '--json'])
    expect(oneJsonObject(r.stdout)).toEqual({
      name: 'EXOSCALE_IDLE_TIMEOUT',
      removed: true,
      config_file: configFile(),
    })
    expect((await runCli(box, ['config', 'get', 'EXOSCALE_IDLE_TIMEOUT'])).stdout).toBe('1800\n')
    const again = await runCli(box, ['config', 'unset', 'EXOSCALE_IDLE_TIMEOUT'])
    expect(again.stdout).toContain('was not in')
  })
})

describe('config list', () => {
  it('shows each value and source, environment values as locked, secrets as set / not set', async () => {
    await runCli(box, ['config', 'set', 'EXOLLAMA_MODEL', 'llama3.2'])
    await runCli(box, ['config', 'set', 'EXOSCALE_API_SECRET', 'list-secret-canary-55555'])
    const r = await runCli(box, ['config', 'list'], {
      env: { EXOSCALE_IDLE_TIMEOUT: '300', EXOSCALE_API_KEY: 'EXOlistkeycanary000000' },
    })
    expect(r.code).toBe(0)
    expect(hasAnsi(r.stdout)).toBe(false)
    const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? ''
    expect(row('EXOSCALE_IDLE_TIMEOUT')).toMatch(/300\s+environment \(locked\)$/)
    expect(row('EXOLLAMA_MODEL')).toMatch(/llama3\.2\s+config file$/)
    expect(row('EXOSCALE_ZONE')).toMatch(/ch-gva-2\s+default$/)
    expect(row('EXOSCALE_API_KEY')).toMatch(/\bset\s+environment \(locked\)$/)
    expect(row('EXOSCALE_API_SECRET')).toMatch(/\bset\s+config file$/)
    expect(row('EXOSCALE_OLLAMA_KEY')).toMatch(/not set\s+-$/)
    expect(r.stdout).toContain(
      `credentials  key from the environment, secret from the config file ${configFile()}`,
    )
    expect(r.stdout).not.toContain('list-secret-canary')
    expect(r.stdout).not.toContain('EXOlistkeycanary')
    for (const name of SETTING_NAMES) expect(row(name), name).not.toBe('')
  })

  it('prints one JSON object: settings keyed by name, secrets only as {set, locked}, and the credential sources', async () => {
    await runCli(box, ['config', 'set', 'EXOSCALE_API_SECRET', 'list-secret-canary-55555'])
    const r = await runCli(box, ['config', 'list', '--json'], {
      env: { EXOSCALE_API_KEY: 'EXOlistkeycanary000000' },
    })
    const json = oneJsonObject(r.stdout)
    expect(json.config_file).toBe(configFile())
    expect(json.data_dir).toBe(box.dataDir)
    const settings = json.settings as Record<string, Record<string, unknown>>
    expect(Object.keys(settings).sort()).toEqual([...SETTING_NAMES].sort())
    expect(settings.EXOSCALE_API_SECRET).toEqual({ set: true, locked: false })
    expect(settings.EXOSCALE_API_KEY).toEqual({ set: true, locked: true })
    expect(settings.EXOSCALE_OLLAMA_KEY).toEqual({ set: false, locked: false })
    expect(settings.EXOSCALE_ZONE).toMatchObject({
      value: 'ch-gva-2',
      source: 'default',
      locked: false,
    })
    expect(json.credentials).toEqual({
      api_key: { set: true, source: 'env', file: null },
      api_secret: { set: true, source: 'file', file: configFile() },
    })
    expect(r.stdout).not.toContain('canary')
  })

  it('shows credentials that come from the exo CLI config, with its path', async () => {
    const dir = path.join(box.home, '.config', 'exoscale')
    mkdirSync(dir, { recursive: true })
    const toml = path.join(dir, 'exoscale.toml')
    writeFileSync(
      toml,
      'defaultaccount = "work"\n\n[[accounts]]\n  name = "work"\n  key = "EXOexocanary00000000000000"\n  secret = "exo-cli-secret-canary-0001"\n  defaultZone = "at-vie-1"\n',
      { mode: 0o600 },
    )
    const r = await runCli(box, ['config', 'list'])
    expect(r.stdout).toContain(`credentials  from the exo CLI config ${toml}`)
    expect(r.stdout.split('\n').find((l) => l.startsWith('EXOSCALE_ZONE '))).toMatch(
      new RegExp(`at-vie-1\\s+exo CLI \\(${toml.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`),
    )
    const json = oneJsonObject((await runCli(box, ['config', 'list', '--json'])).stdout)
    expect(json.exo_cli_config_file).toBe(toml)
    expect(json.credentials).toMatchObject({
      api_secret: { set: true, source: 'exo-cli', file: toml },
    })
    expect(r.stdout + JSON.stringify(json)).not.toMatch(/exo-cli-secret-canary|EXOexocanary/)
  })

  it('stops with one line and the config exit code when the environment holds a bad value', async () => {
    const r = await runCli(box, ['config', 'list'], { env: { EXOSCALE_ZONE: 'mars-1' } })
    expect(r.code).toBe(EXIT_CODES.config)
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/EXOSCALE_ZONE: "mars-1" is not valid: .*\(set in the environment\)$/),
    ])
  })
})
