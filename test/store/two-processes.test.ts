import Database from 'better-sqlite3'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../src/store/store.test-helper.js'

const repoRoot = path.resolve(import.meta.dirname, '..', '..')
const racer = path.join(import.meta.dirname, 'fixtures', 'lease-racer.ts')

interface RacerResult {
  owner: string
  acquisitions: { fencing: number; intentId: string }[]
  overlaps: number
  refusals: number
  errors: string[]
}

interface Racer {
  child: ChildProcessWithoutNullStreams
  ready: Promise<void>
  done: Promise<RacerResult>
}

function startRacer(file: string, owner: string, count: number): Racer {
  const child = spawn(process.execPath, ['--import', 'tsx', racer, file, owner, String(count)], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    if (stdout.startsWith('ready\n')) onReady()
  })
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<RacerResult>((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${owner} exited ${code}: ${stderr}`))
      const last = stdout.trim().split('\n').pop() ?? ''
      resolve(JSON.parse(last) as RacerResult)
    })
  })
  return { child, ready, done }
}

const children: ChildProcessWithoutNullStreams[] = []
let cleanup: () => void = () => {}
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill()
  cleanup()
})

describe('two processes sharing one store file', () => {
  it('never hold the lease at the same time, get strictly increasing fencing numbers and see no SQLITE_BUSY', async () => {
    const tmp = tempDir()
    cleanup = tmp.cleanup
    const file = path.join(tmp.dir, 'state', 'exollama.db')
    const perProcess = 40
    // Both open (create, migrate) the fresh file at the same moment.
    const racers = [
      startRacer(file, 'gateway-a', perProcess),
      startRacer(file, 'gateway-b', perProcess),
    ]
    children.push(...racers.map((r) => r.child))
    await Promise.all(racers.map((r) => r.ready))
    for (const r of racers) r.child.stdin.write('go\n')
    const results = await Promise.all(racers.map((r) => r.done))

    for (const result of results) {
      expect(result.errors, result.owner).toEqual([])
      expect(result.overlaps, result.owner).toBe(0)
      expect(result.acquisitions).toHaveLength(perProcess)
    }
    // Commit order of the intents is the order in which the lease was held.
    const db = new Database(file, { readonly: true })
    const intents = db.prepare('SELECT id, fencing FROM intents ORDER BY rowid').all() as {
      id: string
      fencing: number
    }[]
    const holders = (db.prepare('SELECT holders FROM probe').get() as { holders: number }).holders
    const versions = db.prepare('SELECT version FROM migrations ORDER BY version').all()
    db.close()
    expect(intents).toHaveLength(2 * perProcess)
    for (let i = 1; i < intents.length; i++) {
      expect(intents[i]!.fencing).toBeGreaterThan(intents[i - 1]!.fencing)
    }
    expect(intents.map((i) => i.fencing)).toEqual(
      Array.from({ length: 2 * perProcess }, (_, i) => i + 1),
    )
    const byOwner = new Map(
      results.flatMap((r) => r.acquisitions.map((a) => [a.intentId, a.fencing] as const)),
    )
    for (const intent of intents) expect(byOwner.get(intent.id)).toBe(intent.fencing)
    expect(holders).toBe(0)
    // Both ran their migrations against one file; each step was applied exactly once.
    expect(versions).toEqual([{ version: 1 }, { version: 2 }])
    // They really competed: a process was refused while the other held the lease.
    expect(results[0]!.refusals + results[1]!.refusals).toBeGreaterThan(0)
  }, 120_000)
})
