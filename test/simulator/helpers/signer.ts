import { createHmac } from 'node:crypto'

/**
 * A tiny EXO2-HMAC-SHA256 signer for the simulator's tests, written separately from both the
 * simulator's verifier and src/exoscale so a shared bug cannot hide.
 */
export interface SignInput {
  method: string
  /** Path as sent on the wire, e.g. `/v2/instance`. */
  path: string
  /** Decoded query args (single-valued). */
  query?: Record<string, string>
  body?: string
  key: string
  secret: string
  expires: number
}

export function signAuthorization(input: SignInput): string {
  const names = Object.keys(input.query ?? {}).sort()
  const values = names.map((n) => input.query?.[n] ?? '').join('')
  const message = [
    `${input.method} ${input.path}`,
    input.body ?? '',
    values,
    '',
    String(input.expires),
  ].join('\n')
  const signature = createHmac('sha256', input.secret).update(message, 'utf8').digest('base64')
  const parts = [`credential=${input.key}`]
  if (names.length > 0) parts.push(`signed-query-args=${names.join(';')}`)
  parts.push(`expires=${input.expires}`, `signature=${signature}`)
  return `EXO2-HMAC-SHA256 ${parts.join(',')}`
}
