import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '../..')
const generatedPath = path.join(root, 'src/exoscale/openapi.gen.ts')
const script = path.join(root, 'scripts/gen-exoscale-types.mjs')

/** The operations the client's resource files call. */
const USED = [
  'list-zones',
  'list-instance-types',
  'get-instance-type',
  'list-templates',
  'get-template',
  'list-security-groups',
  'get-security-group',
  'create-security-group',
  'delete-security-group',
  'add-rule-to-security-group',
  'delete-rule-from-security-group',
  'list-instances',
  'get-instance',
  'create-instance',
  'delete-instance',
  'start-instance',
  'stop-instance',
  'reboot-instance',
  'list-quotas',
  'get-quota',
  'get-operation',
]

describe('openapi.gen.ts', () => {
  it('is exactly what the generator makes from the spec (else: npm run gen:exoscale-types)', async () => {
    // The script is plain ESM outside src/ (the layer rule keeps src/ from importing it): run it.
    const { stdout } = await promisify(execFile)(process.execPath, [script, '--stdout'], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    })
    expect(stdout.length).toBeGreaterThan(1000)
    expect(stdout === readFileSync(generatedPath, 'utf8')).toBe(true)
  }, 60_000)

  it('holds exactly the operations the client uses', () => {
    const text = readFileSync(generatedPath, 'utf8')
    const ops = text.slice(text.indexOf('export interface operations'))
    const ids = [...ops.matchAll(/^ {4}"([a-z-]+)": \{$/gm)].map((m) => m[1])
    expect(ids.sort()).toEqual([...USED].sort())
  })
})
