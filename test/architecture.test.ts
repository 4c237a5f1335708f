import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
// @ts-expect-error -- plain ESM module without types, shared with eslint.config.mjs
import { checkImport, LAYERS } from '../scripts/layers.mjs'

const srcDir = path.resolve(import.meta.dirname, '../src')

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return walk(full)
    return full.endsWith('.ts') && !full.endsWith('.test.ts') ? [full] : []
  })
}

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

describe('architecture', () => {
  const files = walk(srcDir)

  it('keeps dependencies one-way between the folders of src/', () => {
    const violations: string[] = []
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const match of text.matchAll(IMPORT_RE)) {
        const spec = match[1] ?? match[2]
        if (!spec) continue
        const problem = checkImport(srcDir, file, spec) as string | undefined
        if (problem) violations.push(`${path.relative(srcDir, file)}: ${problem}`)
      }
    }
    expect(violations).toEqual([])
  })

  it('knows every top-level folder of src/', () => {
    const tops = readdirSync(srcDir).map((n) => n.replace(/\.ts$/, ''))
    const unknown = tops.filter((t) => !(t in LAYERS))
    expect(unknown).toEqual([])
  })

  it('rejects an import that goes against the direction', () => {
    const from = path.join(srcDir, 'exoscale/client.ts')
    expect(checkImport(srcDir, from, '../provisioner/ensure.js')).toMatch(
      /may not import src\/provisioner/,
    )
    expect(checkImport(srcDir, from, '../shared/index.js')).toBeUndefined()
    expect(
      checkImport(srcDir, path.join(srcDir, 'gateway/server.ts'), '../exoscale/index.js'),
    ).toMatch(/may not import/)
  })
})
