/** Helpers for the store's tests (excluded from the build by its name). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ManualClock, Secret } from '../shared/index.js'
import { openStore, type InstanceInput, type OpenStoreOptions, type Store } from './index.js'

/** Test-only files (certificates) live under test/store/fixtures. */
const fixtures = path.join(import.meta.dirname, '..', '..', 'test', 'store', 'fixtures')

/**
 * A test instance's TLS pair (self-signed P-256, made with openssl for these tests only; the
 * key protects nothing).
 */
export function testCertificate(which: 'a' | 'b' = 'a'): { certPem: string; keyPem: string } {
  return {
    certPem: readFileSync(path.join(fixtures, `test-instance-${which}.cert.pem`), 'utf8'),
    keyPem: readFileSync(path.join(fixtures, `test-instance-${which}.key.pem`), 'utf8'),
  }
}

export const FINGERPRINT_A =
  '58:DD:91:D4:AC:DF:70:DF:F2:CD:02:79:86:57:C5:9B:1F:09:75:D7:2E:3D:A8:7C:10:D8:6D:46:0E:95:41:1F'

export const INSTANCE_ID = '4f1d6c8e-2b7a-4c3e-9d5f-0a1b2c3d4e5f'
export const OTHER_INSTANCE_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d'

/** An instance record input with canary secrets. */
export function sampleInstance(overrides: Partial<InstanceInput> = {}): InstanceInput {
  const { certPem, keyPem } = testCertificate('a')
  return {
    name: 'exollama',
    instanceId: INSTANCE_ID,
    intentId: null,
    zone: 'ch-gva-2',
    instanceType: 'standard.medium',
    template: 'Linux Ubuntu 22.04 LTS 64-bit',
    ip: '203.0.113.10',
    state: 'ready',
    createdAt: Date.UTC(2026, 0, 1, 10),
    startedAt: Date.UTC(2026, 0, 1, 10, 1),
    tlsCertPem: certPem,
    ollamaVersion: '0.32.15',
    secrets: {
      ollamaKey: new Secret('ollama-key-canary-0123456789'),
      tlsKeyPem: new Secret(keyPem),
    },
    ...overrides,
  }
}

/** A temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'exollama-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** An in-memory store on a ManualClock. */
export function memoryStore(options: Partial<OpenStoreOptions> = {}): {
  store: Store
  clock: ManualClock
} {
  const clock =
    options.clock instanceof ManualClock
      ? options.clock
      : new ManualClock(Date.UTC(2026, 0, 15, 12))
  const store = openStore({ path: ':memory:', ...options, clock })
  return { store, clock }
}
