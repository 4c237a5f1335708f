import { CliUsageError } from './errors.js'

/** A whole number from a flag, within bounds; anything else is a usage error naming the flag. */
export function parseIntegerFlag(
  flag: string,
  text: string,
  bounds: { min: number; max: number; what: string },
): number {
  const trimmed = text.trim()
  const value = /^\+?\d{1,12}$/.test(trimmed) ? Number(trimmed) : Number.NaN
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new CliUsageError(
      `${flag}: ${JSON.stringify(text.slice(0, 40))} is not valid: expected ${bounds.what} between ${bounds.min} and ${bounds.max}`,
      { code: 'invalid_flag' },
    )
  }
  return value
}

/** An http(s) URL from a flag (`serve --backend`). */
export function parseUrlFlag(flag: string, text: string, what: string): URL {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password
  ) {
    throw new CliUsageError(
      `${flag}: ${JSON.stringify(text.slice(0, 80))} is not valid: expected ${what}`,
      { code: 'invalid_flag' },
    )
  }
  return url
}
