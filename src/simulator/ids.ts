import { createHash, randomUUID } from 'node:crypto'

/** A stable UUID (RFC 4122 layout, version 5 style) derived from a name: same name, same id. */
export function stableUuid(name: string): string {
  const h = createHash('sha256').update(`exollama-simulator:${name}`).digest()
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** A fresh random UUID for resources created at run time. */
export function newUuid(): string {
  return randomUUID()
}
