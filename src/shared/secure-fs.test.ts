import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type * as fs from 'node:fs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const failRename = vi.hoisted(() => ({ once: false }))
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof fs>()
  return {
    ...actual,
    renameSync: (from: string, to: string) => {
      if (failRename.once) {
        failRename.once = false
        throw Object.assign(new Error('simulated crash before rename'), { code: 'EIO' })
      }
      return actual.renameSync(from, to)
    },
  }
})

const {
  createPrivateFile,
  ensurePrivateDir,
  ensurePrivateFile,
  fileMode,
  InsecurePermissionsError,
  writeFileAtomic,
} = await import('./secure-fs.js')

let root: string
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'exollama-securefs-'))
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

const mode = (p: string) => statSync(p).mode & 0o777

describe('ensurePrivateDir', () => {
  it('creates missing directories (and parents) with the leaf at 0700', () => {
    const dir = path.join(root, 'a', 'b', 'data')
    const result = ensurePrivateDir(dir)
    expect(result).toEqual({ created: true, fixed: null })
    expect(mode(dir)).toBe(0o700)
  })

  it('tightens an existing 0755 directory and reports the fix', () => {
    const dir = path.join(root, 'open')
    ensurePrivateDir(dir)
    chmodSync(dir, 0o755)
    const result = ensurePrivateDir(dir)
    expect(result.fixed).toEqual({ path: dir, from: 0o755, to: 0o700 })
    expect(mode(dir)).toBe(0o700)
  })

  it('refuses an open directory when asked to, naming the chmod to run', () => {
    const dir = path.join(root, 'open')
    ensurePrivateDir(dir)
    chmodSync(dir, 0o777)
    expect(() => ensurePrivateDir(dir, { tooOpen: 'refuse' })).toThrow(InsecurePermissionsError)
    expect(() => ensurePrivateDir(dir, { tooOpen: 'refuse' })).toThrow(/chmod 0700/)
    expect(mode(dir)).toBe(0o777)
  })

  it('rejects a file where a directory should be', () => {
    const file = path.join(root, 'file')
    writeFileSync(file, 'x')
    expect(() => ensurePrivateDir(file)).toThrow(/not a directory/)
  })
})

describe('ensurePrivateFile / createPrivateFile', () => {
  it('creates a new file at 0600 even with a permissive umask', () => {
    const previous = process.umask(0o000)
    try {
      const file = path.join(root, 'secret')
      createPrivateFile(file)
      expect(mode(file)).toBe(0o600)
    } finally {
      process.umask(previous)
    }
  })

  it('fixes an existing 0644 file, or refuses it on request', () => {
    const file = path.join(root, 'secret')
    writeFileSync(file, 'x', { mode: 0o644 })
    chmodSync(file, 0o644)
    expect(() => ensurePrivateFile(file, { tooOpen: 'refuse' })).toThrow(/mode 0644/)
    expect(mode(file)).toBe(0o644)
    expect(ensurePrivateFile(file)).toEqual({ path: file, from: 0o644, to: 0o600 })
    expect(mode(file)).toBe(0o600)
    expect(ensurePrivateFile(file)).toBeNull()
  })

  it.runIf(process.getuid?.() === 0)('refuses a file owned by another user', () => {
    const file = path.join(root, 'secret')
    writeFileSync(file, 'x', { mode: 0o600 })
    chownSync(file, 12345, 12345)
    expect(() => ensurePrivateFile(file)).toThrow(/belongs to another user/)
  })

  it('treats a missing file as fine', () => {
    expect(ensurePrivateFile(path.join(root, 'none'))).toBeNull()
    expect(fileMode(path.join(root, 'none'))).toBeUndefined()
  })
})

describe('writeFileAtomic', () => {
  it('replaces the content and leaves the file 0600 even over an existing 0644 file', () => {
    const file = path.join(root, 'config.json')
    writeFileSync(file, 'old', { mode: 0o644 })
    chmodSync(file, 0o644)
    writeFileAtomic(file, 'new')
    expect(readFileSync(file, 'utf8')).toBe('new')
    expect(mode(file)).toBe(0o600)
    expect(readdirSync(root)).toEqual(['config.json'])
  })

  it('keeps the previous content and leaves no temp file when the rename fails', () => {
    const file = path.join(root, 'config.json')
    writeFileAtomic(file, 'previous')
    failRename.once = true
    expect(() => writeFileAtomic(file, 'half-written')).toThrow(/simulated crash/)
    expect(readFileSync(file, 'utf8')).toBe('previous')
    expect(readdirSync(root)).toEqual(['config.json'])
  })
})
