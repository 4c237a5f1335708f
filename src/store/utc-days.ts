const DAY_MS = 86_400_000

/** The UTC day of a time, as `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/** The first millisecond of the UTC month that contains `ms`. */
export function utcMonthStart(ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** Splits the interval [from, to) at UTC midnights: `[day, milliseconds in that day]` pairs. */
export function splitByUtcDay(from: number, to: number): [string, number][] {
  const out: [string, number][] = []
  let start = from
  while (start < to) {
    const midnight = Math.floor(start / DAY_MS) * DAY_MS + DAY_MS
    const end = Math.min(midnight, to)
    out.push([utcDay(start), end - start])
    start = end
  }
  return out
}
