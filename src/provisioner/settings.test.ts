import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { DEFAULT_PROVISIONER_SETTINGS, provisionerSettingsFromConfig } from './settings.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function config(env: Record<string, string>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'exollama-settings-'))
  dirs.push(dir)
  return loadConfig({ env: { HOME: dir, ...env }, dataDir: dir, exoCli: false })
}

describe('provisionerSettingsFromConfig', () => {
  it('gives the DESIGN defaults when nothing is set', () => {
    expect(provisionerSettingsFromConfig(config({}).values)).toEqual(DEFAULT_PROVISIONER_SETTINGS)
  })

  it('maps every setting it uses from its environment variable', () => {
    const settings = provisionerSettingsFromConfig(
      config({
        EXOLLAMA_NAME: 'team-llm',
        EXOSCALE_ZONE: 'at-vie-2',
        EXOSCALE_INSTANCE_TYPE: 'gpua5000.small',
        EXOSCALE_TEMPLATE: 'Linux Ubuntu 24.04 LTS 64-bit',
        EXOSCALE_DISK_SIZE: '120',
        EXOSCALE_OLLAMA_KEY: 'abcdefghijklmnop_0123',
        EXOSCALE_IDLE_TIMEOUT: '20',
        EXOLLAMA_IDLE_ACTION: 'stop',
        EXOLLAMA_DESTROY_AFTER: '3600',
        EXOLLAMA_MODEL: 'qwen2.5:0.5b, llama3.2',
        EXOLLAMA_WAKE_TIMEOUT: '1200',
        EXOLLAMA_MAX_LIFETIME: '7200',
        EXOLLAMA_ALLOWED_CIDRS: '203.0.113.7,2001:db8::/32',
        EXOLLAMA_MIN_OLLAMA_VERSION: '0.20.0',
        EXOLLAMA_OLLAMA_IMAGE_TAG: '0.33.0',
        EXOLLAMA_KEEP_ALIVE: '30m',
        EXOLLAMA_WATCHDOG_GRACE: '300',
      }).values,
    )
    const { ollamaKey, ...rest } = settings
    expect(ollamaKey?.reveal()).toBe('abcdefghijklmnop_0123')
    expect(rest).toEqual({
      name: 'team-llm',
      zone: 'at-vie-2',
      instanceType: 'gpua5000.small',
      template: 'Linux Ubuntu 24.04 LTS 64-bit',
      diskSizeGiB: 120,
      idleTimeoutS: 20,
      idleAction: 'stop',
      destroyAfterS: 3600,
      models: ['qwen2.5:0.5b', 'llama3.2'],
      wakeTimeoutS: 1200,
      maxLifetimeS: 7200,
      allowedCidrs: ['203.0.113.7/32', '2001:db8::/32'],
      minOllamaVersion: '0.20.0',
      ollamaImageTag: '0.33.0',
      keepAlive: '30m',
      watchdogGraceS: 300,
    })
  })
})
