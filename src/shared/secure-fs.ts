import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs'
import path from 'node:path'
import { ExollamaError } from './errors.js'

/**
 * Private files for secrets and state: directories 0700, files 0600, owned by the current user.
 * Modes given to open/mkdir only apply when the path is created (and umask may narrow them), so
 * every helper here chmods explicitly and verifies existing paths. POSIX only: on Windows the
 * mode checks are skipped (ACLs, not modes, protect files there).
 */

/** A path that is group/world accessible or owned by someone else. */
export class InsecurePermissionsError extends ExollamaError {
  override name = 'InsecurePermissionsError'
  readonly path: string

  constructor(file: string, message: string, cause?: unknown) {
    super('insecure_permissions', message, { kind: 'config', cause })
    this.path = file
  }
}

/** A mode change made to bring an existing path to private permissions. */
export interface PermissionFix {
  path: string
  /** The permission bits found (e.g. 0o644). */
  from: number
  /** The permission bits set (0o600 or 0o700). */
  to: number
}

export interface PrivatePathOptions {
  /**
   * What to do with an existing path that others can read: `fix` chmods it (and reports the
   * fix), `refuse` throws InsecurePermissionsError. Default `fix`.
   */
  tooOpen?: 'fix' | 'refuse'
}

const POSIX = process.platform !== 'win32'

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`
}

function checkOwner(target: string, stats: Stats): void {
  const uid = process.getuid?.()
  if (POSIX && uid !== undefined && stats.uid !== uid) {
    throw new InsecurePermissionsError(
      target,
      `${target} belongs to another user (uid ${stats.uid}); use a directory of your own (EXOLLAMA_DATA_DIR)`,
    )
  }
}

function tighten(
  target: string,
  stats: Stats,
  wanted: number,
  options: PrivatePathOptions,
): PermissionFix | null {
  if (!POSIX) return null
  const bits = stats.mode & 0o777
  if ((bits & 0o077) === 0) return null
  if (options.tooOpen === 'refuse') {
    throw new InsecurePermissionsError(
      target,
      `${target} is accessible to other users (mode ${octal(bits)}); run "chmod ${octal(wanted)} ${target}"`,
    )
  }
  chmodSync(target, wanted)
  return { path: target, from: bits, to: wanted }
}

function statOrUndefined(target: string): Stats | undefined {
  try {
    return statSync(target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

export interface EnsureDirResult {
  created: boolean
  fixed: PermissionFix | null
}

/**
 * Makes sure `dir` exists as a 0700 directory of the current user. Missing parents are created
 * with default modes (like `mkdir -p`); the directory itself is chmodded to 0700.
 */
export function ensurePrivateDir(dir: string, options: PrivatePathOptions = {}): EnsureDirResult {
  const existing = statOrUndefined(dir)
  if (!existing) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (POSIX) chmodSync(dir, 0o700)
    } catch (error) {
      throw new ExollamaError(
        'data_dir_unusable',
        `cannot create ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); set EXOLLAMA_DATA_DIR to a writable directory`,
        { kind: 'config', cause: error },
      )
    }
    return { created: true, fixed: null }
  }
  if (!existing.isDirectory()) {
    throw new ExollamaError(
      'data_dir_unusable',
      `${dir} exists but is not a directory; set EXOLLAMA_DATA_DIR to a directory`,
      { kind: 'config' },
    )
  }
  checkOwner(dir, existing)
  return { created: false, fixed: tighten(dir, existing, 0o700, options) }
}

/**
 * Checks an existing file: regular, owned by the current user, mode 0600 (fixed or refused per
 * `options`). A missing file is fine (returns null).
 */
export function ensurePrivateFile(
  file: string,
  options: PrivatePathOptions = {},
): PermissionFix | null {
  const existing = statOrUndefined(file)
  if (!existing) return null
  if (!existing.isFile()) {
    throw new InsecurePermissionsError(file, `${file} is not a regular file; remove it or move it`)
  }
  checkOwner(file, existing)
  return tighten(file, existing, 0o600, options)
}

/**
 * Creates `file` empty with mode 0600 when it does not exist (so a later open by a library never
 * creates it with the umask's default 0644), then checks it like ensurePrivateFile.
 */
export function createPrivateFile(
  file: string,
  options: PrivatePathOptions = {},
): PermissionFix | null {
  const fd = openSync(file, 'a', 0o600)
  closeSync(fd)
  return ensurePrivateFile(file, options)
}

/** The permission bits of `file` (e.g. 0o600), or undefined when it does not exist. */
export function fileMode(file: string): number | undefined {
  const stats = statOrUndefined(file)
  return stats ? stats.mode & 0o777 : undefined
}

/**
 * Replaces `file` atomically: writes a temporary file in the same directory (mode `mode`),
 * fsyncs it, renames it over `file`, then fsyncs the directory. A crash at any point leaves
 * either the old or the new content, never a mix.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = path.dirname(file)
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  )
  const fd = openSync(tmp, 'wx', mode)
  try {
    try {
      const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
      let offset = 0
      while (offset < buffer.length) offset += writeSync(fd, buffer, offset)
      if (POSIX) fchmodSync(fd, mode)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
  } catch (error) {
    try {
      unlinkSync(tmp)
    } catch {
      // already renamed or never created
    }
    throw error
  }
  syncDirectory(dir)
}

function syncDirectory(dir: string): void {
  if (!POSIX) return
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself already happened.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
