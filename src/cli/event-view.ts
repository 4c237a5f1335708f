import type { LifecycleEvent } from '../store/index.js'
import { formatDuration, formatTime, isoTime } from './format.js'
import type { Style } from './style.js'

/** An event in the JSON of `logs --json` (snake_case, ISO time). */
export interface EventJson {
  id: number
  time: string
  type: string
  message: string
  name: string | null
  phase: string | null
  duration_ms: number | null
  actor: string | null
  reason: string | null
  error_code: string | null
  instance_id: string | null
  data: Readonly<Record<string, unknown>> | null
}

export function eventJson(event: LifecycleEvent): EventJson {
  return {
    id: event.id,
    time: isoTime(event.ts),
    type: event.type,
    message: event.message,
    name: event.name,
    phase: event.phase,
    duration_ms: event.durationMs,
    actor: event.actor,
    reason: event.reason,
    error_code: event.errorCode,
    instance_id: event.instanceId,
    data: event.data,
  }
}

/**
 * One event for people:
 * `2026-01-15 13:00:05  ready     booting  instance ready (2m 05s)  by request /api/chat from key k1 — wake by request`
 */
export function renderEvent(event: LifecycleEvent, style: Style): string {
  const failed = event.errorCode !== null || event.type === 'error'
  const type = event.type.padEnd(9)
  const parts = [style.dim(formatTime(event.ts)), failed ? style.red(type) : style.cyan(type)]
  if (event.phase) parts.push(style.bold(event.phase))
  let text = event.message
  if (event.durationMs !== null) text += ` (${formatDuration(event.durationMs)})`
  parts.push(text)
  if (event.actor) parts.push(style.dim(`by ${event.actor}`))
  if (event.reason) parts.push(style.dim(`— ${event.reason}`))
  if (event.errorCode) parts.push(style.red(`[${event.errorCode}]`))
  return parts.join('  ')
}
