import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ExollamaError } from '../../src/shared/index.js'
import { openStore } from '../../src/store/index.js'
import { sampleInstance } from '../../src/store/store.test-helper.js'
import { FakeLifecycle, READY_STATUS, fakeDeps } from './helpers/fake-lifecycle.js'
import { oneJsonObject, runCli, sandbox, type Sandbox } from './helpers/harness.js'

const CANARIES = {
  EXOSCALE_API_KEY: 'EXOcanarykey1234567890abcd',
  EXOSCALE_API_SECRET: 'canary-api-secret-0123456789',
  EXOSCALE_OLLAMA_KEY: 'canary-ollama-key-0123456789',
}
const FILE_SECRET = 'file-canary-secret-987654321'

const COMMANDS: string[][] = [
  ['status'],
  ['status', '--json'],
  ['start'],
  ['start', '--json'],
  ['stop', '--json'],
  ['destroy'],
  ['pull', 'qwen2.5:0.5b'],
  ['models', '--json'],
  ['logs'],
  ['logs', '--json'],
  ['config', 'list'],
  ['config', 'list', '--json'],
  ['config', 'get', 'EXOSCALE_API_SECRET'],
  ['config', 'get', 'EXOSCALE_API_SECRET', '--json'],
  ['config', 'get', 'EXOSCALE_API_KEY', '--json'],
  ['config', 'get', 'EXOSCALE_OLLAMA_KEY'],
  ['cost'],
  ['cost', '--json'],
  ['keys', 'list', '--json'],
]

let box: Sandbox
beforeEach(() => {
  box = sandbox()
  const store = openStore({ dataDir: box.dataDir })
  store.instances.save(sampleInstance({ state: 'ready' }))
  store.events.append({ type: 'ready', message: 'instance ready', durationMs: 1000 })
  store.close()
})
afterEach(() => box.cleanup())

function expectClean(text: string, secrets: string[], label: string) {
  for (const secret of secrets) expect(text, `${label} shows ${secret}`).not.toContain(secret)
}

describe('no secret in any output', () => {
  it('never prints the credentials or the Ollama key, from the environment or the config file', async () => {
    for (const env of [CANARIES, { EXOSCALE_API_KEY: CANARIES.EXOSCALE_API_KEY }]) {
      if (!('EXOSCALE_API_SECRET' in env)) {
        await runCli(box, ['config', 'set', 'EXOSCALE_API_SECRET', FILE_SECRET])
      }
      for (const argv of COMMANDS) {
        const lifecycle = new FakeLifecycle()
        lifecycle.statusResult = {
          ...READY_STATUS,
          boot: { state: 'ready', phase: 'ready', percent: 100, error: null, gpu: false },
        }
        const r = await runCli(box, argv, { env, deps: fakeDeps(lifecycle) })
        expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0)
        expectClean(r.stdout + r.stderr, [...Object.values(CANARIES), FILE_SECRET], argv.join(' '))
      }
    }
  })

  it('scrubs a secret that a lower layer put into an error, with and without --verbose', async () => {
    const lifecycle = new FakeLifecycle()
    lifecycle.failure = new ExollamaError(
      'exoscale_invalid_credentials',
      `Exoscale rejected key ${CANARIES.EXOSCALE_API_KEY} with secret ${CANARIES.EXOSCALE_API_SECRET}`,
      { kind: 'cloud', cause: new Error(`ollama key ${CANARIES.EXOSCALE_OLLAMA_KEY}`) },
    )
    for (const argv of [
      ['status'],
      ['status', '--json'],
      ['--verbose', 'start'],
      ['start', '--json', '--verbose'],
    ]) {
      const r = await runCli(box, argv, { env: CANARIES, deps: fakeDeps(lifecycle) })
      expect(r.code).toBe(4)
      expect(r.stderr).toContain('[redacted]')
      expectClean(r.stdout + r.stderr, Object.values(CANARIES), argv.join(' '))
    }
  })

  it('shows a client key only once, at keys create', async () => {
    const created = oneJsonObject((await runCli(box, ['keys', 'create', 'app', '--json'])).stdout)
    const key = created.key as string
    expect(key).toMatch(/^exo_ollama_/)
    for (const argv of [
      ['keys', 'list'],
      ['keys', 'list', '--all', '--json'],
      ['cost'],
      ['cost', '--json'],
      ['logs', '--json'],
      ['config', 'list'],
    ]) {
      const r = await runCli(box, argv)
      expectClean(r.stdout + r.stderr, [key], argv.join(' '))
    }
    const revoke = await runCli(box, ['keys', 'revoke', created.id as string])
    expectClean(revoke.stdout + revoke.stderr, [key], 'keys revoke')
  })
})
