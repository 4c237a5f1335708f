import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import path from 'node:path'
import type { ChildConfig } from '../fixtures/provisioner-child.js'
import type { Harness } from './harness.js'

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..')
const script = path.join(import.meta.dirname, '..', 'fixtures', 'provisioner-child.ts')

export interface Child {
  process: ChildProcessWithoutNullStreams
  lines: string[]
  /** Resolves with the first line starting with `prefix` (rejects when the child exits first). */
  line(prefix: string): Promise<string>
  /** kill -9, and wait for the exit. */
  kill(): Promise<void>
  exited: Promise<number | null>
  stderr(): string
}

const children = new Set<Child>()

/** Starts a provisioner child on the harness's simulator, fake VMs and data directory. */
export function startChild(h: Harness, config: Partial<ChildConfig>): Child {
  const full: ChildConfig = {
    endpoint: h.sim.endpoint,
    apiKey: h.sim.credentials.key,
    apiSecret: h.sim.credentials.secret,
    dataDir: h.dataDir,
    vmPort: h.vmPort,
    action: 'ensure',
    ...config,
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(full)], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  let buffer = ''
  const waiters: { prefix: string; resolve: (l: string) => void; reject: (e: Error) => void }[] = []
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let i = buffer.indexOf('\n')
    while (i >= 0) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      lines.push(line)
      for (const w of [...waiters]) {
        if (line.startsWith(w.prefix)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
      i = buffer.indexOf('\n')
    }
  })
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      for (const w of waiters.splice(0)) {
        w.reject(
          new Error(`child exited (${code}) before "${w.prefix}": ${lines.join(' | ')} ${stderr}`),
        )
      }
      resolve(code)
    })
  })
  const handle: Child = {
    process: child,
    lines,
    exited,
    stderr: () => stderr,
    line(prefix) {
      const found = lines.find((l) => l.startsWith(prefix))
      if (found) return Promise.resolve(found)
      if (child.exitCode !== null) {
        return Promise.reject(new Error(`child already exited: ${lines.join(' | ')} ${stderr}`))
      }
      return new Promise((resolve, reject) => waiters.push({ prefix, resolve, reject }))
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  children.add(handle)
  void exited.then(() => children.delete(handle))
  return handle
}

/** Kills every child still running (afterEach). */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill()))
}
