import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeSettings } from '../src/config/index.js'

const root = path.resolve(import.meta.dirname, '..')
const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
const ciRun = readFileSync(path.join(root, '.ci/run'), 'utf8')

/** The contents of the fenced code blocks of the README. */
function codeBlocks(text: string): string[] {
  return [...text.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]!.trim())
}

describe('README', () => {
  it('documents every setting', () => {
    const missing = describeSettings()
      .map((s) => s.name)
      .filter((name) => !readme.includes(`\`${name}\``))
    expect(missing).toEqual([])
  })

  it('has the run and test commands in plain fenced blocks, and CI runs the same test command', () => {
    const blocks = codeBlocks(readme)
    expect(blocks).toContain('npm install && npm start')
    expect(blocks).toContain('npm test')
    expect(ciRun).toMatch(/^npm test$/m)
  })
})
