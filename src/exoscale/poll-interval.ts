/** The poll interval at the start of a wait, as in egoscale, python-exoscale and exoscale-sdk-ts. */
export const DEFAULT_POLL_INTERVAL_MS = 3000

/** egoscale v3 pollInterval: 3 s for 30 s, then linear to 60 s at 15 min, capped at 60 s. */
const SLOPE = 57 / 870
const INTERCEPT_S = 3 - 30 * SLOPE

/**
 * How long to wait before the next poll, `elapsedMs` into a wait. With the default base (3 s)
 * this is egoscale's schedule exactly; another base scales the whole curve (time and interval)
 * by base / 3 s, so tests can run the same shape in milliseconds.
 */
export function pollIntervalMs(elapsedMs: number, baseMs = DEFAULT_POLL_INTERVAL_MS): number {
  const scale = baseMs / DEFAULT_POLL_INTERVAL_MS
  const t = Math.max(0, elapsedMs) / scale / 1000
  const seconds = t <= 30 ? 3 : Math.min(60, SLOPE * t + INTERCEPT_S)
  return Math.round(seconds * 1000 * scale)
}
