import { existsSync } from 'node:fs'
import path from 'node:path'
import {
  nginxMainConfig,
  relocateNginxConfig,
  startNginx,
  type NginxPrefixFile,
  type NginxProcess,
} from '../../shared/nginx-process.js'
import { systemClock } from '../../shared/index.js'
import { listenPort, type ProxyStartInput, type VmProxy } from './proxy.js'

/**
 * Real nginx running the instance's own site config, moved onto this machine with the fewest
 * possible changes: `listen` gets the instance's loopback IP, absolute file paths point into
 * the VM's rootfs, and the upstream 127.0.0.1:11434 becomes the emulated Ollama's port.
 * Everything else (key check, headers, timeouts, /exollama/boot) runs exactly as written.
 */

/** What Ubuntu's stock nginx.conf puts in `http {}` around the site includes. */
const STOCK_MIME_TYPES = '/etc/nginx/mime.types'

export interface NginxProxyOptions {
  binary: string
  /** How long nginx may take to listen. */
  startTimeoutMs?: number
}

/** Masters still running, stopped if this process exits without closing the simulator. */
const live = new Set<NginxProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const nginx of live) {
      // SIGTERM makes the master stop its workers too: no nginx outlives the simulator.
      if (nginx.pid !== undefined) {
        try {
          process.kill(nginx.pid, 'SIGTERM')
        } catch {
          // already gone
        }
      }
    }
  })
}

export interface NginxProxy extends VmProxy {
  readonly kind: 'nginx'
  readonly process: NginxProcess
  /** The site config as nginx runs it, and which of its lines changed (1-based), per source. */
  readonly relocated: { vmPath: string; text: string; changedLines: number[] }[]
}

/** Builds the relocated prefix and starts nginx; resolves once it accepts connections. */
export async function startNginxProxy(
  input: ProxyStartInput,
  options: NginxProxyOptions,
): Promise<NginxProxy> {
  const { site, rootfs, ip } = input
  const prefix = path.join(rootfs.dir, 'nginx')

  const listen: Record<string, string> = {}
  const waitFor: { host: string; port: number }[] = []
  for (const arg of site.listens) {
    const port = listenPort(arg)
    if (port === undefined) throw new Error(`cannot emulate "listen ${arg}"`)
    listen[arg] = `${ip}:${port}`
    if (!waitFor.some((w) => w.port === port)) waitFor.push({ host: ip, port })
  }

  const files: NginxPrefixFile[] = []
  const paths: Record<string, string> = {}
  for (const ref of site.references) {
    // A stock include (e.g. /etc/nginx/mime.types) stays where the nginx package put it.
    if (ref.directive === 'include' && !existsSync(rootfs.hostPath(ref.vmPath))) continue
    paths[ref.vmPath] = rootfs.hostPath(ref.vmPath)
  }
  if (input.tlsOverride && site.certPath && site.keyPath) {
    files.push({ path: 'override/instance.crt', content: input.tlsOverride.certPem })
    files.push({ path: 'override/instance.key', content: input.tlsOverride.keyPem, mode: 0o600 })
    paths[site.certPath] = path.join(prefix, 'override/instance.crt')
    paths[site.keyPath] = path.join(prefix, 'override/instance.key')
  }
  const vmOllama = String(input.vmOllamaPort)
  const upstreams = {
    [`127.0.0.1:${vmOllama}`]: `127.0.0.1:${input.ollamaPort}`,
    [`localhost:${vmOllama}`]: `127.0.0.1:${input.ollamaPort}`,
  }

  const relocated = site.sources.map((source, i) => {
    const { text, changedLines } = relocateNginxConfig(source.text, { listen, paths, upstreams })
    files.push({ path: `sites/${i}-${path.basename(source.vmPath)}`, content: text })
    return { vmPath: source.vmPath, text, changedLines }
  })

  const http = [
    '    sendfile on;',
    '    tcp_nopush on;',
    '    types_hash_max_size 2048;',
    ...(existsSync(STOCK_MIME_TYPES) ? [`    include ${STOCK_MIME_TYPES};`] : []),
    '    default_type application/octet-stream;',
    '    ssl_prefer_server_ciphers on;',
    '    gzip on;',
    ...files.filter((f) => f.path.startsWith('sites/')).map((f) => `    include ${f.path};`),
  ].join('\n')

  const nginx = await startNginx({
    binary: options.binary,
    prefix,
    mainConfig: nginxMainConfig({ http, errorLogLevel: 'warn' }),
    files,
    waitFor,
    // Real processes and sockets: nginx's start and stop run on real time.
    clock: systemClock,
    logger: input.logger,
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
  })
  live.add(nginx)
  installExitHook()
  void nginx.exited.then(() => live.delete(nginx))
  return {
    kind: 'nginx',
    process: nginx,
    relocated,
    get pid() {
      return nginx.pid
    },
    stop: async () => {
      await nginx.stop(1_000)
      live.delete(nginx)
    },
  }
}
