import { isIPv4, isIPv6 } from 'node:net'

/**
 * CIDR blocks in canonical form: host bits cleared, IPv6 compressed per RFC 5952. A bare address
 * is a single host (/32 or /128). Returns undefined for anything else (zone ids, bad prefixes).
 */
export function canonicalCidr(input: string): string | undefined {
  const text = input.trim()
  const slash = text.indexOf('/')
  const address = slash < 0 ? text : text.slice(0, slash)
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1)
  if (isIPv4(address)) {
    const prefix = parsePrefix(prefixText, 32)
    if (prefix === undefined) return undefined
    const octets = address.split('.').map(Number)
    let value = 0n
    for (const octet of octets) value = (value << 8n) | BigInt(octet)
    const masked = mask(value, prefix, 32)
    const out = [24n, 16n, 8n, 0n].map((shift) => String((masked >> shift) & 0xffn))
    return `${out.join('.')}/${prefix}`
  }
  if (isIPv6(address) && !address.includes('%')) {
    const prefix = parsePrefix(prefixText, 128)
    if (prefix === undefined) return undefined
    const groups = ipv6Groups(address)
    if (!groups) return undefined
    let value = 0n
    for (const group of groups) value = (value << 16n) | BigInt(group)
    const masked = mask(value, prefix, 128)
    const out: number[] = []
    for (let i = 7; i >= 0; i--) out.push(Number((masked >> BigInt(i * 16)) & 0xffffn))
    return `${formatIpv6(out)}/${prefix}`
  }
  return undefined
}

/** Splits a comma-separated CIDR list; undefined when any entry is invalid or the list is empty. */
export function canonicalCidrList(input: string): string[] | undefined {
  const parts = input
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
  if (parts.length === 0) return undefined
  const out: string[] = []
  for (const part of parts) {
    const cidr = canonicalCidr(part)
    if (cidr === undefined) return undefined
    if (!out.includes(cidr)) out.push(cidr)
  }
  return out
}

function parsePrefix(text: string | undefined, max: number): number | undefined {
  if (text === undefined) return max
  if (!/^\d{1,3}$/.test(text)) return undefined
  const n = Number(text)
  return n <= max ? n : undefined
}

function mask(value: bigint, prefix: number, bits: number): bigint {
  if (prefix === 0) return 0n
  const all = (1n << BigInt(bits)) - 1n
  const hostBits = (1n << BigInt(bits - prefix)) - 1n
  return value & (all ^ hostBits)
}

function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase()
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return undefined
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] ? halves[0].split(':') : []
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined
  return groups.map((g) => parseInt(g, 16))
}

function formatIpv6(groups: number[]): string {
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestLength < 2) return hex.join(':')
  const left = hex.slice(0, bestStart).join(':')
  const right = hex.slice(bestStart + bestLength).join(':')
  return `${left}::${right}`
}
