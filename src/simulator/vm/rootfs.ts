import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { CloudFile } from './cloud-config.js'

/**
 * The emulated VM's disk: a temp directory holding `rootfs/` (the VM's file system: what
 * cloud-init's write_files created, the boot status, logs) and `nginx/` (real nginx's prefix).
 * It outlives power cycles (stop keeps the disk) and is removed when the instance is destroyed.
 */
export class VmRootfs {
  /** The temp directory of this VM. */
  readonly dir: string
  /** The VM's `/`. */
  readonly fsRoot: string

  private constructor(dir: string) {
    this.dir = dir
    this.fsRoot = path.join(dir, 'rootfs')
  }

  /** Creates the directory (0755: nginx workers run as nobody when the master is root). */
  static async create(parent: string, label: string): Promise<VmRootfs> {
    const safe = label.replace(/[^A-Za-z0-9-]/g, '').slice(0, 12) || 'vm'
    const dir = await mkdtemp(path.join(parent, `exollama-vm-${safe}-`))
    await chmod(dir, 0o755)
    const rootfs = new VmRootfs(dir)
    await mkdir(rootfs.fsRoot, { recursive: true, mode: 0o755 })
    await chmod(rootfs.fsRoot, 0o755)
    return rootfs
  }

  /** Where a VM path lives on this machine. */
  hostPath(vmPath: string): string {
    if (!path.isAbsolute(vmPath)) throw new Error(`not an absolute VM path: ${vmPath}`)
    const full = path.join(this.fsRoot, path.normalize(vmPath))
    if (!full.startsWith(this.fsRoot + path.sep)) throw new Error(`VM path escapes: ${vmPath}`)
    return full
  }

  /** Creates a VM directory and its parents, each 0755. */
  async mkdirp(vmDir: string): Promise<void> {
    const parts = path.normalize(vmDir).split('/').filter(Boolean)
    let current = this.fsRoot
    for (const part of parts) {
      current = path.join(current, part)
      await mkdir(current, { recursive: true })
      await chmod(current, 0o755)
    }
  }

  /** cloud-init's write_files: parent directories, content, mode. */
  async writeFiles(files: Iterable<CloudFile>): Promise<void> {
    for (const file of files) {
      await this.mkdirp(path.dirname(file.path))
      const target = this.hostPath(file.path)
      await writeFile(target, file.content)
      await chmod(target, file.mode)
    }
  }

  /** Atomic write (temp file + rename), as the boot script writes boot.json. */
  async writeAtomic(vmPath: string, content: string, mode = 0o644): Promise<void> {
    await this.mkdirp(path.dirname(vmPath))
    const target = this.hostPath(vmPath)
    const tmp = `${target}.tmp.${process.pid}`
    await writeFile(tmp, content)
    await chmod(tmp, mode)
    await rename(tmp, target)
  }

  async append(vmPath: string, content: string): Promise<void> {
    await this.mkdirp(path.dirname(vmPath))
    await writeFile(this.hostPath(vmPath), content, { flag: 'a', mode: 0o644 })
  }

  /** The file's text, or undefined when it does not exist. */
  async read(vmPath: string): Promise<string | undefined> {
    try {
      return await readFile(this.hostPath(vmPath), 'utf8')
    } catch {
      return undefined
    }
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Values of a `NAME='value'` / `NAME=value` environment file (systemd EnvironmentFile style). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (!m?.[1]) continue
    let value = (m[2] ?? '').trim()
    if (
      value.length >= 2 &&
      ((value.startsWith("'") && value.endsWith("'")) ||
        (value.startsWith('"') && value.endsWith('"')))
    ) {
      value = value.slice(1, -1)
    }
    out[m[1]] = value
  }
  return out
}
