import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { findFreePort } from '../shared/nginx-process.js'
import { startSimulator, type Simulator } from '../simulator/index.js'
import { openLocalLifecycle } from './local-lifecycle.js'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tempDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'exollama-local-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function simulator(): Promise<Simulator> {
  const sim = await startSimulator({ operationDelayMs: 10, instanceTransitionMs: 20 })
  cleanups.push(() => sim.close())
  return sim
}

function configFor(dataDir: string, env: Record<string, string>) {
  return loadConfig({ env: { HOME: dataDir, ...env }, dataDir, exoCli: false })
}

const STATUS_KEYS = ['state', 'simulated', 'instance', 'idle', 'models', 'cost']

describe('openLocalLifecycle', () => {
  it('without credentials: status is absent and simulated with every field; start says what to configure', async () => {
    const dataDir = tempDataDir()
    const lifecycle = await openLocalLifecycle(configFor(dataDir, {}))
    cleanups.push(() => lifecycle.close())
    const status = await lifecycle.status()
    expect(Object.keys(status)).toEqual(expect.arrayContaining(STATUS_KEYS))
    expect(status).toEqual({
      state: 'absent',
      simulated: true,
      instance: null,
      idle: { timeout_s: 1800, remaining_s: null, action: 'destroy' },
      models: [],
      cost: { currency: 'CHF', session: null, month: 0 },
    })
    const error = await lifecycle.start().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'no_credentials', kind: 'config' })
    expect((error as Error).message).toContain('EXOSCALE_API_KEY and EXOSCALE_API_SECRET')
  })

  it('with credentials, status asks the API (and rejected credentials are reported)', async () => {
    const sim = await simulator()
    const dataDir = tempDataDir()
    const good = await openLocalLifecycle(
      configFor(dataDir, {
        EXOSCALE_API_KEY: sim.credentials.key,
        EXOSCALE_API_SECRET: sim.credentials.secret,
        EXOSCALE_API_ENDPOINT: sim.endpoint,
      }),
    )
    cleanups.push(() => good.close())
    expect(await good.status()).toMatchObject({ state: 'absent', simulated: false, instance: null })
    expect(sim.requests.some((r) => r.operationId === 'list-instances' && r.signed)).toBe(true)

    const bad = await openLocalLifecycle(
      configFor(tempDataDir(), {
        EXOSCALE_API_KEY: sim.credentials.key,
        EXOSCALE_API_SECRET: 'not-the-secret-0123456789abcdefghijkl',
        EXOSCALE_API_ENDPOINT: sim.endpoint,
      }),
    )
    cleanups.push(() => bad.close())
    await expect(bad.status()).rejects.toMatchObject({ code: 'exoscale_invalid_credentials' })
  })

  it('start --timeout: refused connections are retried until the deadline, then the instance it created is deleted (not stopped)', async () => {
    const sim = await simulator()
    const closedPort = await findFreePort()
    const lifecycle = await openLocalLifecycle(
      configFor(tempDataDir(), {
        EXOSCALE_API_KEY: sim.credentials.key,
        EXOSCALE_API_SECRET: sim.credentials.secret,
        EXOSCALE_API_ENDPOINT: sim.endpoint,
      }),
      {
        instanceOrigin: () => `https://127.0.0.1:${closedPort}`,
        client: { pollIntervalMs: 10, retry: { baseDelayMs: 5, maxDelayMs: 20 } },
      },
    )
    cleanups.push(() => lifecycle.close())
    const phases: string[] = []
    const error = await lifecycle
      .start({
        timeoutMs: 4_000,
        onProgress: (p) => {
          if (p.kind === 'phase') phases.push(p.phase)
        },
      })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'wake_timeout', kind: 'timeout' })
    expect((error as Error).message).toContain('never answered on port 11435 (ECONNREFUSED)')
    expect((error as Error).message).toContain('it was destroyed')
    expect(phases).toEqual(expect.arrayContaining(['provisioning', 'booting']))
    const count = (id: string) => sim.requests.filter((r) => r.operationId === id).length
    expect(count('create-instance')).toBe(1)
    expect(count('delete-instance')).toBe(1)
    expect(count('stop-instance')).toBe(0)
    expect(
      sim.state.instances().filter((i) => i.state !== 'destroying' && i.state !== 'destroyed'),
    ).toEqual([])
    expect((await lifecycle.status()).state).toBe('error')
  })
})
