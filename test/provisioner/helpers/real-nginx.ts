import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { VM_PATHS } from '../../../src/recipe/constants.js'
import { decodeUserData } from '../../../src/recipe/user-data.js'
import {
  nginxMainConfig,
  relocateNginxConfig,
  startNginx,
  type NginxProcess,
} from '../../../src/shared/nginx-process.js'

/**
 * The instance's nginx exactly as its user-data configures it, run by real nginx on this machine
 * with the minimal relocation (listen address, file directories, upstream port), on a port the
 * test chose beforehand (the provisioner is told where to find it before nginx starts).
 */
export interface RealInstanceNginx {
  nginx: NginxProcess
  /** Writes the boot status file the boot script would write. */
  writeBoot(status: Record<string, unknown>): Promise<void>
  stop(): Promise<void>
}

export async function startRealInstanceNginx(options: {
  nginxBinary: string
  userData: string
  port: number
  upstreamPort: number
}): Promise<RealInstanceNginx> {
  const doc = parse(decodeUserData(options.userData), { version: '1.1' }) as {
    write_files: { path: string; content: string }[]
  }
  const file = (p: string) => {
    const found = doc.write_files.find((f) => f.path === p)
    if (!found) throw new Error(`user-data writes no ${p}`)
    return found.content
  }
  const root = await mkdtemp(path.join(tmpdir(), 'exollama-prov-nginx-'))
  const prefix = path.join(root, 'nginx')
  const stateDir = path.join(root, 'state')
  const logDir = path.join(root, 'log')
  await mkdir(stateDir, { recursive: true })
  await mkdir(logDir, { recursive: true })
  const { text } = relocateNginxConfig(file(VM_PATHS.nginxConf), {
    listen: { '11435': `127.0.0.1:${options.port}` },
    paths: {
      '/etc/exollama/tls/': `${prefix}/tls/`,
      [`${VM_PATHS.stateDir}/`]: `${stateDir}/`,
      '/var/log/nginx/': `${logDir}/`,
    },
    upstreams: { '127.0.0.1:11434': `127.0.0.1:${options.upstreamPort}` },
  })
  await chmod(root, 0o755)
  await chmod(stateDir, 0o755)
  await chmod(logDir, 0o777)
  const nginx = await startNginx({
    binary: options.nginxBinary,
    prefix,
    mainConfig: nginxMainConfig({ http: 'include exollama.conf;' }),
    files: [
      { path: 'exollama.conf', content: text },
      { path: 'tls/instance.crt', content: file(VM_PATHS.tlsCert) },
      { path: 'tls/instance.key', content: file(VM_PATHS.tlsKey), mode: 0o600 },
    ],
    waitFor: [{ host: '127.0.0.1', port: options.port }],
  })
  return {
    nginx,
    async writeBoot(status) {
      const target = path.join(stateDir, 'boot.json')
      await writeFile(`${target}.tmp`, JSON.stringify(status))
      await chmod(`${target}.tmp`, 0o644)
      await rename(`${target}.tmp`, target)
    },
    async stop() {
      await nginx.stop(3_000)
      await rm(root, { recursive: true, force: true })
    },
  }
}
