import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Secret } from '../../src/shared/index.js'
import type { ProvisionerSettings } from '../../src/provisioner/index.js'
import {
  CANARY_API_SECRET,
  CANARY_OLLAMA_KEY,
  capturingLogger,
  startHarness,
  TEST_SETTINGS,
  type Harness,
} from './helpers/harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterEach(() => {
  h.sim.faults.clear()
})
afterAll(async () => {
  await h.close()
})

interface Case {
  what: string
  settings: Partial<ProvisionerSettings>
  code: string
  kind: string
  /** Every one of these must be in the message. */
  says: string[]
}

const CASES: Case[] = [
  {
    what: 'an unknown zone',
    settings: { zone: 'ch-zrh-9' },
    code: 'unknown_zone',
    kind: 'config',
    says: ['zone ch-zrh-9 does not exist', 'EXOSCALE_ZONE', 'ch-gva-2', 'de-fra-1'],
  },
  {
    what: 'an unknown instance type',
    settings: { instanceType: 'standard.gigantic' },
    code: 'exoscale_not_found',
    kind: 'config',
    says: ['standard.gigantic', 'EXOSCALE_INSTANCE_TYPE', 'standard.medium', 'standard.large'],
  },
  {
    what: 'a type not offered in the zone',
    settings: { instanceType: 'gpua5000.small' },
    code: 'exoscale_not_found',
    kind: 'config',
    says: ['not offered in zone ch-gva-2', 'at-vie-2', 'EXOSCALE_INSTANCE_TYPE'],
  },
  {
    what: 'a GPU type the organization may not use',
    settings: { instanceType: 'gpua30.small' },
    code: 'instance_type_not_authorized',
    kind: 'config',
    says: ['gpua30.small', 'EXOSCALE_INSTANCE_TYPE', 'standard.medium', 'request access'],
  },
  {
    what: 'an unknown template',
    settings: { template: 'Linux Ubuntu 99.04 LTS 64-bit' },
    code: 'exoscale_not_found',
    kind: 'config',
    says: ['Linux Ubuntu 99.04 LTS 64-bit', 'EXOSCALE_TEMPLATE', '"Linux Ubuntu 24.04 LTS 64-bit"'],
  },
  {
    what: 'a template the recipe does not support',
    settings: { template: 'Linux Debian 12 (Bookworm) 64-bit' },
    code: 'recipe_unsupported_template',
    kind: 'config',
    says: ['Debian 12', 'Linux Ubuntu 22.04 LTS 64-bit'],
  },
  {
    what: 'a disk below the template’s minimum',
    settings: { diskSizeGiB: 8 },
    code: 'disk_too_small',
    kind: 'config',
    says: ['EXOSCALE_DISK_SIZE 8 GiB', 'at least 10'],
  },
  {
    what: 'an Ollama key the instance cannot use',
    settings: { ollamaKey: new Secret('has.dots/and+plus=0123456789') },
    code: 'invalid_setting',
    kind: 'config',
    says: ['EXOSCALE_OLLAMA_KEY', 'A-Z a-z 0-9 _ -'],
  },
]

describe('bad input: one clear error that names the fix, and nothing created', () => {
  for (const c of CASES) {
    it(c.what, async () => {
      const { logger, lines } = capturingLogger()
      const p = h.provisioner({ settings: { ...TEST_SETTINGS, ...c.settings }, logger })
      const postsBefore = h.calls('create-instance')
      const error = await p.ensureReady().catch((e: unknown) => e)
      expect(error).toMatchObject({ code: c.code, kind: c.kind })
      const message = (error as Error).message
      expect(message.split('\n')).toHaveLength(1)
      for (const part of c.says) expect(message).toContain(part)
      expect(h.calls('create-instance')).toBe(postsBefore)
      expect(h.store.intents.list({ name: 'exollama', state: 'pending' })).toEqual([])
      expect(p.state()).toBe('error')
      const everything = message + JSON.stringify(h.events()) + lines.join('\n')
      expect(everything).not.toContain(CANARY_API_SECRET)
      expect(everything).not.toContain('has.dots/and+plus=0123456789')
      await p.close()
    })
  }

  it('bad credentials: status() and ensureReady() both report exoscale_invalid_credentials', async () => {
    const client = h.makeClient({ apiSecret: 'wrong-secret-0123456789abcdefghijklmno' })
    const p = h.provisioner({ client })
    const statusError = await p.status().catch((e: unknown) => e)
    expect(statusError).toMatchObject({ code: 'exoscale_invalid_credentials', kind: 'config' })
    expect((statusError as Error).message).toContain('EXOSCALE_API_KEY / EXOSCALE_API_SECRET')
    const wakeError = await p.ensureReady().catch((e: unknown) => e)
    expect(wakeError).toMatchObject({ code: 'exoscale_invalid_credentials' })
    expect(JSON.stringify(h.events())).not.toContain('wrong-secret')
    await p.close()
  })

  it('a canary Ollama key never appears in events, errors or logs, even on failure paths', async () => {
    const { logger, lines } = capturingLogger()
    h.sim.faults.capacity('standard.medium')
    const p = h.provisioner({
      settings: { ...TEST_SETTINGS, ollamaKey: new Secret(CANARY_OLLAMA_KEY) },
      logger,
    })
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'exoscale_capacity_unavailable' })
    const dump =
      JSON.stringify(h.events()) +
      (error as Error).message +
      JSON.stringify(error) +
      lines.join('\n') +
      JSON.stringify(await p.status())
    expect(dump).not.toContain(CANARY_OLLAMA_KEY)
    expect(dump).not.toContain(CANARY_API_SECRET)
    expect(dump).not.toContain('PRIVATE KEY')
    await p.close()
  })
})
