import { readFileSync } from 'node:fs'
import path from 'node:path'
import AjvDraft04 from 'ajv-draft-04'
import ajvFormats from 'ajv-formats'
import { parse } from 'yaml'
import { decodeUserData } from '../../../src/recipe/user-data.js'

/** The repository root (this file is test/recipe/helpers/). */
export const repoRoot = path.resolve(import.meta.dirname, '../../..')

/** cloud-init's own schema, read in place from the shared reference folder. */
export const schemaPath = path.resolve(repoRoot, '../shared/cloud-init/schema-cloud-config-v1.json')

let validator: ((doc: unknown) => string[]) | undefined

/** Validates a parsed #cloud-config document; returns the errors (empty when valid). */
export function cloudConfigErrors(doc: unknown): string[] {
  if (!validator) {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object
    // CommonJS packages: under nodenext the class/function is the `default` of the namespace.
    const ajv = new AjvDraft04.default({ strict: false, allErrors: true })
    ajvFormats.default(ajv)
    const validate = ajv.compile(schema)
    validator = (d) =>
      validate(d)
        ? []
        : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
  }
  return validator(doc)
}

export interface WrittenFile {
  path: string
  content: string
  permissions: unknown
  owner: unknown
}

export interface DecodedUserData {
  text: string
  doc: Record<string, unknown>
  files: Map<string, WrittenFile>
}

/** base64 → gunzip → YAML 1.1, the way cloud-init reads it. */
export function decodeAndParse(userData: string): DecodedUserData {
  const text = decodeUserData(userData)
  const doc = parse(text, { version: '1.1' }) as Record<string, unknown>
  const files = new Map<string, WrittenFile>()
  for (const f of (doc.write_files ?? []) as WrittenFile[]) files.set(f.path, f)
  return { text, doc, files }
}

/** The content of one write_files entry, or a thrown error naming the missing path. */
export function fileContent(decoded: DecodedUserData, filePath: string): string {
  const file = decoded.files.get(filePath)
  if (!file) throw new Error(`user-data writes no ${filePath}`)
  return file.content
}
