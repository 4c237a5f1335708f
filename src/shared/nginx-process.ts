import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { systemClock, type Clock } from './clock.js'
import { ExollamaError } from './errors.js'
import { silentLogger, type Logger } from './logger.js'

/**
 * A runner for real nginx, used by the recipe's tests and by the simulator's emulated VM: it
 * writes a prefix directory, checks the config with `nginx -t`, runs nginx in the foreground as
 * a child (`-p prefix -c conf -e stderr -g 'daemon off;'`), waits until it listens and stops it
 * gracefully. It only uses switches that Debian's 1.22 and Ubuntu's 1.18/1.24 all know.
 */

/** Debian and Ubuntu install nginx here. */
export const DEFAULT_NGINX_BINARY = '/usr/sbin/nginx'

export type NginxErrorCode =
  'nginx_config_invalid' | 'nginx_start_failed' | 'nginx_start_timeout' | 'nginx_bad_prefix_file'

/** nginx refused the config, exited early or did not listen in time. `output` is its stderr. */
export class NginxError extends ExollamaError {
  override name = 'NginxError'
  readonly output: string

  constructor(code: NginxErrorCode, message: string, output = '', cause?: unknown) {
    super(code, message, { kind: 'internal', cause })
    this.output = output
  }
}

/** A file written under the prefix before nginx starts (certificates, included configs, …). */
export interface NginxPrefixFile {
  /** Relative to the prefix; must stay inside it. */
  path: string
  content: string | Uint8Array
  /** Default 0o644 (the worker, `nobody` when started as root, must be able to read it). */
  mode?: number
}

export interface NginxPrefixOptions {
  /** Absolute directory that holds everything of this nginx (created if missing). */
  prefix: string
  /** The main config, written to `<prefix>/nginx.conf`; relative includes resolve against the prefix. */
  mainConfig: string
  files?: readonly NginxPrefixFile[]
}

export interface NginxBinaryOptions {
  /** Default {@link DEFAULT_NGINX_BINARY}. */
  binary?: string
}

export interface StartNginxOptions extends NginxPrefixOptions, NginxBinaryOptions {
  /** TCP addresses nginx must accept connections on before `startNginx` resolves. */
  waitFor: readonly { host: string; port: number }[]
  /**
   * The pid file the main config names, relative to the prefix (default `run/nginx.pid`, as
   * {@link nginxMainConfig} writes it; `null` to skip). nginx writes it only after binding every
   * listen socket, so a port held by another program is never mistaken for nginx.
   */
  pidFile?: string | null
  /** Default 15 s. */
  startTimeoutMs?: number
  /** Paces the readiness polls and the stop deadline. Default: the system clock. */
  clock?: Clock
  logger?: Logger
}

export interface MainConfigOptions {
  /** Text placed inside `http { … }` (typically `include some.conf;`). */
  http: string
  /** Default `info`. */
  errorLogLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error'
  /** Default `off`; a path relative to the prefix logs every request. */
  accessLog?: string
  workerProcesses?: number
  workerConnections?: number
}

const TEMP_DIRS = ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const
const MAX_OUTPUT = 64 * 1024

/**
 * A main config that keeps everything under the prefix (pid, temp paths, logs), so nginx runs
 * as any user and never touches /var/lib/nginx or /var/log/nginx.
 */
export function nginxMainConfig(options: MainConfigOptions): string {
  const temp = TEMP_DIRS.map(
    (d) => `    ${d === 'body' ? 'client_body' : d}_temp_path run/tmp/${d};`,
  ).join('\n')
  return [
    `worker_processes ${options.workerProcesses ?? 1};`,
    'pid run/nginx.pid;',
    `error_log stderr ${options.errorLogLevel ?? 'info'};`,
    `events { worker_connections ${options.workerConnections ?? 256}; }`,
    'http {',
    `    access_log ${options.accessLog ?? 'off'};`,
    temp,
    options.http,
    '}',
    '',
  ].join('\n')
}

/** Writes the prefix: main config, extra files, `run/` and its temp directories. */
export async function writeNginxPrefix(options: NginxPrefixOptions): Promise<string> {
  const prefix = path.resolve(options.prefix)
  await mkdir(path.join(prefix, 'run', 'tmp'), { recursive: true })
  // Workers run as nobody when the master is root: let them traverse the prefix and use temp dirs.
  await chmod(prefix, 0o755)
  await chmod(path.join(prefix, 'run'), 0o755)
  for (const dir of TEMP_DIRS) {
    const full = path.join(prefix, 'run', 'tmp', dir)
    await mkdir(full, { recursive: true })
    await chmod(full, 0o777)
  }
  for (const file of options.files ?? []) {
    const full = path.resolve(prefix, file.path)
    if (!full.startsWith(prefix + path.sep)) {
      throw new NginxError(
        'nginx_bad_prefix_file',
        `prefix file ${JSON.stringify(file.path)} points outside the prefix; use a relative path inside it`,
      )
    }
    await mkdir(path.dirname(full), { recursive: true })
    await writeFile(full, file.content)
    await chmod(full, file.mode ?? 0o644)
  }
  const configPath = path.join(prefix, 'nginx.conf')
  await writeFile(configPath, options.mainConfig)
  await chmod(configPath, 0o644)
  return configPath
}

function baseArgs(prefix: string, configPath: string): string[] {
  return ['-p', `${path.resolve(prefix)}/`, '-c', configPath, '-e', 'stderr']
}

export interface NginxCheckResult {
  /** `[warn]` lines nginx printed while accepting the config. */
  warnings: string[]
  output: string
}

/**
 * Writes the prefix and runs `nginx -t` on it. Resolves with the warnings; rejects with
 * `nginx_config_invalid` carrying nginx's own message when the config is refused.
 */
export async function checkNginxConfig(
  options: NginxPrefixOptions & NginxBinaryOptions,
): Promise<NginxCheckResult> {
  const configPath = await writeNginxPrefix(options)
  const binary = options.binary ?? DEFAULT_NGINX_BINARY
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      binary,
      ['-t', ...baseArgs(options.prefix, configPath)],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        const text = `${stdout}${stderr}`
        if (!error) return resolve(text)
        const emerg = text.split('\n').find((l) => /\[(emerg|alert|crit)\]/.test(l))
        reject(
          new NginxError(
            'nginx_config_invalid',
            `nginx rejected the config: ${(emerg ?? text.trim().split('\n')[0] ?? error.message).trim()}`,
            text,
            error,
          ),
        )
      },
    )
  })
  const warnings = output.split('\n').filter((l) => l.includes('[warn]'))
  return { warnings, output }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2_000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

export interface NginxExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A running nginx master started by {@link startNginx}. */
export class NginxProcess {
  readonly prefix: string
  readonly configPath: string
  /** Resolves when the master process has exited. */
  readonly exited: Promise<NginxExit>
  readonly #child: ChildProcess
  readonly #clock: Clock
  #output = ''
  #exit: NginxExit | undefined

  /** @internal use {@link startNginx} */
  constructor(child: ChildProcess, prefix: string, configPath: string, clock: Clock) {
    this.#child = child
    this.prefix = prefix
    this.configPath = configPath
    this.#clock = clock
    const append = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-MAX_OUTPUT)
    }
    child.stdout?.on('data', append)
    child.stderr?.on('data', append)
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal }
        resolve(this.#exit)
      })
      child.once('error', (error) => {
        append(Buffer.from(`spawn failed: ${error.message}\n`))
        this.#exit = { code: null, signal: null }
        resolve(this.#exit)
      })
    })
  }

  /** The master's pid (undefined if the spawn failed). */
  get pid(): number | undefined {
    return this.#child.pid
  }

  /** True until the master exits. */
  get running(): boolean {
    return this.#exit === undefined
  }

  /** The last 64 KiB of what nginx wrote to stderr/stdout (error log included). */
  output(): string {
    return this.#output
  }

  /** Re-reads the config (SIGHUP). */
  reload(): void {
    if (this.running) this.#child.kill('SIGHUP')
  }

  /**
   * Graceful stop: SIGQUIT lets in-flight requests finish; after `timeoutMs` (default 10 s)
   * SIGTERM, then SIGKILL, so a stuck stream never hangs the caller.
   */
  async stop(timeoutMs = 10_000): Promise<NginxExit> {
    if (!this.running) return this.exited
    for (const signal of ['SIGQUIT', 'SIGTERM', 'SIGKILL'] as const) {
      this.#child.kill(signal)
      const controller = new AbortController()
      const timedOut = this.#clock.sleep(timeoutMs, controller.signal).then(
        () => true,
        () => false,
      )
      const stillRunning = await Promise.race([this.exited.then(() => false), timedOut])
      controller.abort()
      if (!stillRunning) break
    }
    return this.exited
  }
}

/**
 * Writes the prefix, checks the config, starts nginx in the foreground and resolves once every
 * `waitFor` address accepts connections. Rejects (and kills nginx) when the config is invalid,
 * nginx exits early, or it does not listen within `startTimeoutMs`.
 */
export async function startNginx(options: StartNginxOptions): Promise<NginxProcess> {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const binary = options.binary ?? DEFAULT_NGINX_BINARY
  const prefix = path.resolve(options.prefix)
  await checkNginxConfig({ ...options, binary })
  const configPath = path.join(prefix, 'nginx.conf')
  const child = spawn(binary, [...baseArgs(prefix, configPath), '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const nginx = new NginxProcess(child, prefix, configPath, clock)
  logger.debug({ pid: child.pid, prefix }, 'nginx started')

  const deadline = clock.now() + (options.startTimeoutMs ?? 15_000)
  const pidFile = options.pidFile === undefined ? 'run/nginx.pid' : options.pidFile
  let pidSeen = pidFile === null
  const pending = [...options.waitFor]
  while (!pidSeen || pending.length > 0) {
    const emerg = nginx
      .output()
      .split('\n')
      .find((l) => l.includes('[emerg]'))
    if (!nginx.running || emerg !== undefined) {
      await nginx.stop(2_000)
      const exit = await nginx.exited
      throw new NginxError(
        'nginx_start_failed',
        `nginx failed to start (code ${exit.code}, signal ${exit.signal}): ${emerg?.trim() ?? 'see its output'}`,
        nginx.output(),
      )
    }
    if (!pidSeen && pidFile !== null) {
      const text = await readFile(path.resolve(prefix, pidFile), 'utf8').catch(() => '')
      pidSeen = text.trim() === String(child.pid)
    }
    const next = pending[0]
    if (pidSeen && next && (await canConnect(next.host, next.port))) {
      pending.shift()
      continue
    }
    if (clock.now() >= deadline) {
      await nginx.stop(2_000)
      throw new NginxError(
        'nginx_start_timeout',
        pidSeen
          ? `nginx did not accept connections on ${next?.host}:${next?.port} in time`
          : `nginx did not write its pid file ${pidFile} in time; see its output`,
        nginx.output(),
      )
    }
    await clock.sleep(50)
  }
  return nginx
}

/** A TCP port that was free on `host` a moment ago (bind to 0, read, close). */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      )
    })
  })
}

export interface RelocateOptions {
  /** `listen` first arguments to replace, e.g. `{ '11435': '127.0.0.1:18443' }`. */
  listen?: Readonly<Record<string, string>>
  /** Absolute path prefixes to move, e.g. `{ '/etc/exollama/': '/tmp/x/etc/' }` (longest first). */
  paths?: Readonly<Record<string, string>>
  /** Upstream addresses in `proxy_pass http://…` and `server …;` to replace. */
  upstreams?: Readonly<Record<string, string>>
}

export interface RelocatedConfig {
  text: string
  /** 1-based numbers of the lines that changed. */
  changedLines: number[]
}

const PATH_DIRECTIVES =
  /(^|[\s{;])(ssl_certificate|ssl_certificate_key|ssl_trusted_certificate|ssl_dhparam|alias|root|access_log|error_log|include)(\s+)([^\s;]+)/g

/**
 * Moves a production nginx config onto a test machine by rewriting only listen addresses, file
 * paths in path-taking directives and upstream addresses, line by line; everything else is kept
 * byte for byte. Returns which lines changed so callers can prove the rewrite stayed minimal.
 */
export function relocateNginxConfig(text: string, options: RelocateOptions): RelocatedConfig {
  const pathEntries = Object.entries(options.paths ?? {}).sort((a, b) => b[0].length - a[0].length)
  const changedLines: number[] = []
  const lines = text.split('\n').map((line, index) => {
    let out = line
    const listen = /^(\s*listen\s+)(\S+?)(;|\s)/.exec(out)
    if (listen?.[2] !== undefined) {
      const target = options.listen?.[listen[2]]
      if (target !== undefined) {
        out = `${listen[1]}${target}${out.slice(listen[1]!.length + listen[2].length)}`
      }
    }
    out = out.replace(
      PATH_DIRECTIVES,
      (match, lead: string, name: string, space: string, arg: string) => {
        const entry = pathEntries.find(([from]) => arg.startsWith(from))
        return entry ? `${lead}${name}${space}${entry[1]}${arg.slice(entry[0].length)}` : match
      },
    )
    for (const [from, to] of Object.entries(options.upstreams ?? {})) {
      const proxyPass = new RegExp(`^(\\s*proxy_pass\\s+https?://)${escapeRegExp(from)}(?=[/;\\s])`)
      const server = new RegExp(`^(\\s*server\\s+)${escapeRegExp(from)}(?=[;\\s])`)
      out = out.replace(proxyPass, `$1${to}`).replace(server, `$1${to}`)
    }
    if (out !== line) changedLines.push(index + 1)
    return out
  })
  return { text: lines.join('\n'), changedLines }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
