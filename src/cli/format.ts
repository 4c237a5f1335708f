import { stripVTControlCharacters } from 'node:util'

/** Small text formats for human output. Pure functions; times are passed in. */

/** `950ms`, `8.2s`, `2m 05s`, `1h 02m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const value = Math.max(0, ms)
  if (value < 1000) return `${Math.round(value)}ms`
  if (value < 60_000) return `${(Math.floor(value / 100) / 10).toFixed(1)}s`
  const totalSeconds = Math.floor(value / 1000)
  const seconds = totalSeconds % 60
  const totalMinutes = Math.floor(totalSeconds / 60)
  if (totalMinutes < 60) return `${totalMinutes}m ${String(seconds).padStart(2, '0')}s`
  const minutes = totalMinutes % 60
  const totalHours = Math.floor(totalMinutes / 60)
  if (totalHours < 48) return `${totalHours}h ${String(minutes).padStart(2, '0')}m`
  return `${Math.floor(totalHours / 24)}d ${totalHours % 24}h`
}

/** Seconds as a duration (`1800` → `30m 00s`). */
export function formatSeconds(seconds: number): string {
  return formatDuration(seconds * 1000)
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const

/** Decimal units, as Ollama prints sizes: `512 B`, `4.7 GB`. */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes)
  let unit = 0
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0
    ? `${Math.round(value)} B`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`
}

/** Money: 4 decimals below 1 (hourly rates are fractions of a franc), else 2. */
export function formatMoney(amount: number | null, currency: string): string {
  if (amount === null) return `${currency} ?`
  return `${currency} ${amount.toFixed(Math.abs(amount) < 1 ? 4 : 2)}`
}

/** Hours with two decimals (`1.50`). */
export function formatHours(ms: number): string {
  return (ms / 3_600_000).toFixed(2)
}

function pad2(n: number): string {
  return String(n).padStart(2, '0')
}

/** Local time as `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
}

/** UTC time as an ISO 8601 string (the JSON form). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString()
}

/** A text bar of `width` cells for 0–100 percent: `[######----]` or with blocks. */
export function formatBar(percent: number, width = 20, ascii = false): string {
  const clamped = Math.max(0, Math.min(100, percent))
  const filled = Math.round((clamped / 100) * width)
  const [full, empty] = ascii ? ['#', '-'] : ['█', '░']
  return `[${full.repeat(filled)}${empty.repeat(width - filled)}]`
}

/** Rows of cells as aligned columns (two spaces between), the last column unpadded. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  // Widths as seen on screen: colour codes take no room.
  const width = (cell: string) => [...stripVTControlCharacters(cell)].length
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))))
  }
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell)),
      )
      .join('  ')
      .trimEnd(),
  )
}
