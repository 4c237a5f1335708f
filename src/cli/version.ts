import { readFileSync } from 'node:fs'

/** The package version, read from package.json next to src/ and dist/ alike. */
export function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url)
    const parsed = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }
    return typeof parsed.version === 'string' ? parsed.version : 'unknown'
  } catch {
    return 'unknown'
  }
}
