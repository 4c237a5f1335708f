import type { ErrorKind } from '../shared/index.js'

/** Distinct exit codes per error class, so scripts can tell a typo from an outage. */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  cloud: 4,
  timeout: 5,
} as const satisfies Record<ErrorKind | 'ok', number>
