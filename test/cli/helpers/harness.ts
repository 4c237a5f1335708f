/** Runs the CLI in-process and as a real subprocess, in a sandbox of temporary folders. */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { CliDeps, CliIo } from '../../../src/cli/index.js'
import { run } from '../../../src/cli/index.js'
import type { Clock } from '../../../src/shared/index.js'

export const REPO = path.resolve(import.meta.dirname, '..', '..', '..')
export const MAIN = path.join(REPO, 'src', 'main.ts')

/** A stream that keeps what is written. */
export class Capture {
  text = ''
  isTTY: boolean | undefined
  columns: number | undefined
  constructor(options: { tty?: boolean; columns?: number } = {}) {
    this.isTTY = options.tty
    this.columns = options.columns
  }
  write(chunk: string): boolean {
    this.text += chunk
    return true
  }
  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '')
  }
}

/** A temporary data dir and an empty HOME, removed by `cleanup`. */
export interface Sandbox {
  root: string
  home: string
  dataDir: string
  /** The base environment: HOME (empty folder), EXOLLAMA_DATA_DIR, NO_COLOR=1. */
  env: Record<string, string>
  cleanup(): void
}

export function sandbox(): Sandbox {
  const root = mkdtempSync(path.join(os.tmpdir(), 'exollama-cli-'))
  const home = path.join(root, 'home')
  mkdirSync(home)
  const dataDir = path.join(root, 'data')
  return {
    root,
    home,
    dataDir,
    env: { HOME: home, EXOLLAMA_DATA_DIR: dataDir, NO_COLOR: '1' },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  }
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  deps?: Partial<CliDeps>
  clock?: Clock
  signal?: AbortSignal
  stdin?: string
  tty?: boolean
  columns?: number
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** `exollama ARGV` in this process, with captured output. */
export async function runCli(
  box: Sandbox,
  argv: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const { promise, stdout, stderr } = startCli(box, argv, options)
  const code = await promise
  return { code, stdout: stdout.text, stderr: stderr.text }
}

/** Starts `exollama ARGV` in this process without waiting, for following commands. */
export function startCli(
  box: Sandbox,
  argv: string[],
  options: RunOptions = {},
): { promise: Promise<number>; stdout: Capture; stderr: Capture } {
  const capture = {
    tty: options.tty ?? false,
    ...(options.columns ? { columns: options.columns } : {}),
  }
  const stdout = new Capture(capture)
  const stderr = new Capture(capture)
  const io: CliIo = {
    stdout,
    stderr,
    env: { ...box.env, ...options.env },
    ...(options.stdin === undefined ? {} : { stdin: Readable.from([options.stdin]) }),
    ...(options.signal ? { shutdownSignal: options.signal } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  }
  return { promise: run(argv, io, options.deps), stdout, stderr }
}

/** A running `node --import tsx src/main.ts ARGV`. */
export interface Subprocess {
  stdout(): string
  stderr(): string
  /** Resolves when the output so far satisfies `test`. */
  waitFor(test: (stdout: string) => boolean): Promise<void>
  kill(signal: NodeJS.Signals): void
  exit: Promise<RunResult>
}

/** `exollama ARGV` as a real process: no TTY anywhere, only the given environment (plus PATH). */
export function spawnCli(argv: string[], env: Record<string, string>, stdin = ''): Subprocess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...argv], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (const check of waiters) check()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  child.stdin.end(stdin)
  const exit = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : -1), stdout: out, stderr: err }),
    )
  })
  return {
    stdout: () => out,
    stderr: () => err,
    waitFor(test) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (test(out)) {
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
        void exit.then(() => {
          if (waiters.has(check))
            reject(new Error(`process ended first; stdout: ${out} stderr: ${err}`))
        })
        check()
      })
    },
    kill: (signal) => child.kill(signal),
    exit,
  }
}

/** Runs a subprocess to its end. */
export function runSubprocess(
  argv: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<RunResult> {
  return spawnCli(argv, env, stdin).exit
}

/** Parses stdout as exactly one JSON object (throws otherwise). */
export function oneJsonObject(stdout: string): Record<string, unknown> {
  const value: unknown = JSON.parse(stdout)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`stdout is not one JSON object: ${stdout}`)
  }
  return value as Record<string, unknown>
}

/** Whether text contains an ANSI escape sequence. */
export function hasAnsi(text: string): boolean {
  return text.includes('\u001b[')
}
