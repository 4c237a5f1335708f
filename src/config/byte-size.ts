const UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
}

/**
 * Parses a size in bytes: a plain integer, or a number with a unit (`32MiB`, `512k`, `1GB`;
 * K/M/G and KiB/MiB/GiB are binary, KB/MB/GB decimal). Returns undefined for anything else.
 */
export function parseByteSize(input: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(input.trim())
  if (!match) return undefined
  const unitText = (match[2] ?? '').toLowerCase()
  const unit = unitText === '' ? 1 : UNITS[unitText]
  if (unit === undefined) return undefined
  const value = Number(match[1]) * unit
  if (!Number.isSafeInteger(Math.round(value))) return undefined
  if (unitText === '' && !/^\d+$/.test(match[1] ?? '')) return undefined
  return Math.round(value)
}
