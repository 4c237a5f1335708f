import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  InvalidSettingError,
  loadConfig,
  publicSettingsView,
  setSetting,
  setSettings,
  SettingNotStorableError,
  UnknownSettingError,
  unsetSetting,
} from '../../src/config/index.js'

let root: string
let dataDir: string
let configFile: string
let env: Record<string, string>

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'exollama-settings-'))
  dataDir = path.join(root, 'data')
  configFile = path.join(dataDir, 'config.json')
  mkdirSync(path.join(root, 'home'))
  env = { HOME: path.join(root, 'home'), EXOLLAMA_DATA_DIR: dataDir }
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

const mode = (p: string) => statSync(p).mode & 0o777
const readJson = () => JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>

describe('setSetting', () => {
  it('stores the canonical text atomically in a 0600 file in a 0700 directory it creates', () => {
    const change = setSetting(dataDir, 'EXOSCALE_IDLE_TIMEOUT', '600')
    expect(change).toEqual({ name: 'EXOSCALE_IDLE_TIMEOUT', text: '600', shadowedBy: null })
    expect(readJson()).toEqual({ EXOSCALE_IDLE_TIMEOUT: '600' })
    expect(mode(dataDir)).toBe(0o700)
    expect(mode(configFile)).toBe(0o600)
    expect(readdirSync(dataDir)).toEqual(['config.json'])

    setSetting(dataDir, 'exollama_allowed_cidrs', '10.1.2.3/8 , 203.0.113.9')
    expect(readJson()).toEqual({
      EXOSCALE_IDLE_TIMEOUT: '600',
      EXOLLAMA_ALLOWED_CIDRS: '10.0.0.0/8,203.0.113.9/32',
    })
    const config = loadConfig({ env })
    expect(config.settings.EXOSCALE_IDLE_TIMEOUT).toMatchObject({ value: 600, source: 'file' })
    expect(config.values.EXOLLAMA_ALLOWED_CIDRS).toEqual(['10.0.0.0/8', '203.0.113.9/32'])
  })

  it('rejects "banana" for the idle timeout in one line and leaves the file byte for byte', () => {
    setSetting(dataDir, 'EXOSCALE_IDLE_TIMEOUT', '600')
    const before = readFileSync(configFile)
    let caught: unknown
    try {
      setSetting(dataDir, 'EXOSCALE_IDLE_TIMEOUT', 'banana')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidSettingError)
    expect((caught as Error).message).toBe(
      'EXOSCALE_IDLE_TIMEOUT: "banana" is not valid: expected an integer number of seconds between 5 and 2592000',
    )
    expect(readFileSync(configFile).equals(before)).toBe(true)
    expect(readdirSync(dataDir)).toEqual(['config.json'])
    expect(loadConfig({ env }).values.EXOSCALE_IDLE_TIMEOUT).toBe(600)
  })

  it('accepts small idle timeouts such as 20', () => {
    setSetting(dataDir, 'EXOSCALE_IDLE_TIMEOUT', '20')
    expect(loadConfig({ env }).values.EXOSCALE_IDLE_TIMEOUT).toBe(20)
  })

  it('refuses unknown names and EXOLLAMA_DATA_DIR without creating a file', () => {
    expect(() => setSetting(dataDir, 'IDLE_TIMEOUT', '60')).toThrow(UnknownSettingError)
    expect(() => setSetting(dataDir, 'IDLE_TIMEOUT', '60')).toThrow(
      /^unknown setting "IDLE_TIMEOUT": run "exollama config list"/,
    )
    expect(() => setSetting(dataDir, 'EXOLLAMA_DATA_DIR', '/tmp/x')).toThrow(
      SettingNotStorableError,
    )
    expect(readdirSync(root)).toEqual(['home'])
  })

  it('stores secrets without echoing them, and the public view only says they are set', () => {
    const change = setSetting(dataDir, 'EXOSCALE_API_SECRET', 'stored-secret-canary-42')
    expect(change.text).toBe('[redacted]')
    expect(JSON.stringify(change)).not.toContain('canary')
    expect(readJson().EXOSCALE_API_SECRET).toBe('stored-secret-canary-42')
    expect(mode(configFile)).toBe(0o600)

    const config = loadConfig({ env })
    expect(config.values.EXOSCALE_API_SECRET?.reveal()).toBe('stored-secret-canary-42')
    expect(publicSettingsView(config).EXOSCALE_API_SECRET).toEqual({ set: true, locked: false })

    try {
      setSetting(dataDir, 'EXOSCALE_OLLAMA_KEY', 'short-canary')
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).toBe(
        'EXOSCALE_OLLAMA_KEY: the value is not valid: expected a key of 16 to 256 characters (letters, digits and . _ ~ + / = -)',
      )
    }
  })

  it('says when the environment shadows the stored value', () => {
    const change = setSetting(dataDir, 'EXOSCALE_ZONE', 'de-fra-1', {
      env: { EXOSCALE_ZONE: 'at-vie-1' },
    })
    expect(change.shadowedBy).toBe('env')
    const config = loadConfig({ env: { ...env, EXOSCALE_ZONE: 'at-vie-1' } })
    expect(config.settings.EXOSCALE_ZONE).toMatchObject({
      value: 'at-vie-1',
      source: 'env',
      locked: true,
    })
  })

  it('fixes an existing 0644 file to 0600 and keeps unknown keys it finds', () => {
    mkdirSync(dataDir, { mode: 0o700 })
    writeFileSync(configFile, JSON.stringify({ SOMETHING_ELSE: 'kept' }))
    chmodSync(configFile, 0o644)
    setSetting(dataDir, 'EXOLLAMA_MODEL', 'qwen2.5:0.5b')
    expect(mode(configFile)).toBe(0o600)
    expect(readJson()).toEqual({ EXOLLAMA_MODEL: 'qwen2.5:0.5b', SOMETHING_ELSE: 'kept' })
  })
})

describe('setSettings', () => {
  it('writes all changes or none', () => {
    setSetting(dataDir, 'EXOSCALE_ZONE', 'de-fra-1')
    const before = readFileSync(configFile)
    expect(() =>
      setSettings(dataDir, { EXOSCALE_DISK_SIZE: 100, EXOLLAMA_IDLE_ACTION: 'explode' }),
    ).toThrow(/EXOLLAMA_IDLE_ACTION/)
    expect(readFileSync(configFile).equals(before)).toBe(true)

    const changes = setSettings(dataDir, {
      EXOSCALE_DISK_SIZE: 100,
      EXOLLAMA_ALLOW_MODEL_ADMIN: true,
      EXOSCALE_ZONE: null,
    })
    expect(changes.map((c) => [c.name, c.text])).toEqual([
      ['EXOSCALE_DISK_SIZE', '100'],
      ['EXOLLAMA_ALLOW_MODEL_ADMIN', 'true'],
      ['EXOSCALE_ZONE', null],
    ])
    expect(readJson()).toEqual({ EXOSCALE_DISK_SIZE: '100', EXOLLAMA_ALLOW_MODEL_ADMIN: 'true' })
  })
})

describe('unsetSetting', () => {
  it('removes a stored value and reports whether there was one', () => {
    setSetting(dataDir, 'EXOSCALE_ZONE', 'de-fra-1')
    setSetting(dataDir, 'EXOSCALE_DISK_SIZE', '80')
    expect(unsetSetting(dataDir, 'exoscale_zone')).toBe(true)
    expect(unsetSetting(dataDir, 'EXOSCALE_ZONE')).toBe(false)
    expect(readJson()).toEqual({ EXOSCALE_DISK_SIZE: '80' })
    expect(loadConfig({ env }).settings.EXOSCALE_ZONE.source).toBe('default')
    expect(() => unsetSetting(dataDir, 'NOPE')).toThrow(UnknownSettingError)
  })
})
