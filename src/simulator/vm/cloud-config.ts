import { gunzipSync } from 'node:zlib'
import { parseDocument } from 'yaml'
import { ExollamaError } from '../../shared/index.js'

/**
 * Reads an instance's user-data the way cloud-init does: one line of base64, gunzip when the
 * bytes are gzip, then a `#cloud-config` document parsed as YAML 1.1 (PyYAML's dialect), and
 * its `write_files` with their encodings and permissions. Independent of src/recipe on purpose:
 * a bug in the recipe's encoder must show up here, not cancel out.
 */

/** One `write_files` entry, decoded. */
export interface CloudFile {
  path: string
  content: Buffer
  /** The mode cloud-init would set (default 0o644). */
  mode: number
  owner: string
  append: boolean
}

export interface CloudConfig {
  /** The decoded document text. */
  text: string
  /** The parsed document. */
  doc: Record<string, unknown>
  /** write_files by path (a later entry for the same path replaces or appends, as cloud-init does). */
  files: Map<string, CloudFile>
}

/** The user-data is not something cloud-init would apply. The message names the problem. */
export class CloudConfigError extends ExollamaError {
  override name = 'CloudConfigError'
  constructor(message: string, cause?: unknown) {
    super('vm_user_data_invalid', message, { kind: 'internal', cause })
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function decodeBase64(text: string, what: string): Buffer {
  const compact = text.replace(/\s+/g, '')
  if (!BASE64.test(compact)) throw new CloudConfigError(`${what} is not valid base64`)
  return Buffer.from(compact, 'base64')
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b
}

/** cloud-init's decode_perms: an integer is used as is, a string is read as octal. */
function decodeMode(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0o644
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value & 0o7777
  if (typeof value === 'string' && /^[0-7]{1,4}$/.test(value.trim()))
    return parseInt(value.trim(), 8)
  throw new CloudConfigError(
    `write_files entry ${path} has permissions ${JSON.stringify(value)} that cloud-init cannot read`,
  )
}

function decodeContent(entry: Record<string, unknown>, path: string): Buffer {
  const raw = entry.content ?? ''
  if (raw instanceof Uint8Array) return Buffer.from(raw) // a !!binary scalar
  if (typeof raw !== 'string') {
    throw new CloudConfigError(`write_files entry ${path} has a non-string content`)
  }
  const encoding = String(entry.encoding ?? 'text/plain').toLowerCase()
  switch (encoding) {
    case 'text/plain':
      return Buffer.from(raw, 'utf8')
    case 'b64':
    case 'base64':
      return decodeBase64(raw, `the content of ${path}`)
    case 'gz':
    case 'gzip':
      return gunzipSync(Buffer.from(raw, 'latin1'))
    case 'gz+b64':
    case 'gz+base64':
    case 'gzip+b64':
    case 'gzip+base64':
      return gunzipSync(decodeBase64(raw, `the content of ${path}`))
    default:
      throw new CloudConfigError(`write_files entry ${path} has an unknown encoding "${encoding}"`)
  }
}

/** Decodes and parses an instance's user-data; throws CloudConfigError with a one-line reason. */
export function readCloudConfig(userData: string): CloudConfig {
  const bytes = decodeBase64(userData, 'the user-data')
  let text: string
  try {
    text = (isGzip(bytes) ? gunzipSync(bytes) : bytes).toString('utf8')
  } catch (error) {
    throw new CloudConfigError('the user-data looks gzipped but does not gunzip', error)
  }
  if (!/^#cloud-config[ \t]*\r?\n/.test(text)) {
    throw new CloudConfigError(
      'the user-data is not a #cloud-config document (cloud-init would ignore it)',
    )
  }
  const parsed = parseDocument(text, { version: '1.1', uniqueKeys: true })
  if (parsed.errors.length > 0) {
    throw new CloudConfigError(
      `the #cloud-config is not valid YAML 1.1: ${parsed.errors[0]?.message.split('\n')[0] ?? ''}`,
    )
  }
  const doc: unknown = parsed.toJS()
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CloudConfigError('the #cloud-config document is not a mapping')
  }
  const record = doc as Record<string, unknown>
  const files = new Map<string, CloudFile>()
  const list = record.write_files ?? []
  if (!Array.isArray(list)) throw new CloudConfigError('write_files is not a list')
  for (const [index, item] of list.entries()) {
    if (!item || typeof item !== 'object') {
      throw new CloudConfigError(`write_files[${index}] is not a mapping`)
    }
    const entry = item as Record<string, unknown>
    const path = entry.path
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new CloudConfigError(`write_files[${index}] has no absolute path`)
    }
    const content = decodeContent(entry, path)
    const append = entry.append === true
    const previous = files.get(path)
    files.set(path, {
      path,
      content: append && previous ? Buffer.concat([previous.content, content]) : content,
      mode: decodeMode(entry.permissions, path),
      owner: typeof entry.owner === 'string' ? entry.owner : 'root:root',
      append,
    })
  }
  return { text, doc: record, files }
}
