import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { VM_PATHS } from '../../../src/recipe/constants.js'
import {
  findFreePort,
  nginxMainConfig,
  relocateNginxConfig,
  startNginx,
  type NginxProcess,
} from '../../../src/shared/nginx-process.js'
import { decodeAndParse, fileContent } from './cloud-config.js'

export interface InstanceNginx {
  nginx: NginxProcess
  port: number
  /** Stands in for /var/lib/exollama (boot.json, activity.log). */
  stateDir: string
  /** The config as generated, and as run. */
  generated: string
  relocated: string
  changedLines: number[]
  stop(): Promise<void>
}

/**
 * Runs the nginx config from a user-data in real nginx, as on the VM except for what cannot be
 * the same on a test machine: listen address/port, the directories of the TLS files, the state
 * directory and the log directory, and the upstream address (the fake Ollama's port).
 */
export async function startInstanceNginx(options: {
  nginxBinary: string
  userData: string
  upstreamPort: number
}): Promise<InstanceNginx> {
  const decoded = decodeAndParse(options.userData)
  const generated = fileContent(decoded, VM_PATHS.nginxConf)
  const root = await mkdtemp(path.join(tmpdir(), 'exollama-instance-'))
  const prefix = path.join(root, 'nginx')
  const stateDir = path.join(root, 'state')
  const logDir = path.join(root, 'log')
  await mkdir(stateDir, { recursive: true })
  await mkdir(logDir, { recursive: true })
  const port = await findFreePort()
  const { text, changedLines } = relocateNginxConfig(generated, {
    listen: { '11435': `127.0.0.1:${port}` },
    paths: {
      '/etc/exollama/tls/': `${prefix}/tls/`,
      [`${VM_PATHS.stateDir}/`]: `${stateDir}/`,
      '/var/log/nginx/': `${logDir}/`,
    },
    upstreams: { '127.0.0.1:11434': `127.0.0.1:${options.upstreamPort}` },
  })
  await chmod(root, 0o755) // the worker (nobody when run as root) reads boot.json from here
  await chmod(stateDir, 0o755)
  const nginx = await startNginx({
    binary: options.nginxBinary,
    prefix,
    mainConfig: nginxMainConfig({ http: 'include exollama.conf;' }),
    files: [
      { path: 'exollama.conf', content: text },
      { path: 'tls/instance.crt', content: fileContent(decoded, VM_PATHS.tlsCert) },
      { path: 'tls/instance.key', content: fileContent(decoded, VM_PATHS.tlsKey), mode: 0o600 },
    ],
    waitFor: [{ host: '127.0.0.1', port }],
  })
  return {
    nginx,
    port,
    stateDir,
    generated,
    relocated: text,
    changedLines,
    stop: async () => {
      await nginx.stop(3_000)
      await rm(root, { recursive: true, force: true })
    },
  }
}
