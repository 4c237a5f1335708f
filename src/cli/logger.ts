import type { Logger, LogFn } from '../shared/index.js'
import type { Output } from './output.js'

/**
 * The Logger the CLI hands to the store and the lifecycle: warnings and errors become one
 * `exollama: warning:` line on stderr; info and debug appear only with --verbose. Fields are
 * shown as JSON (scrubbed of secrets by the Output).
 */
export function createCliLogger(
  out: Output,
  verbose: boolean,
  bindings: Record<string, unknown> = {},
): Logger {
  const make =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error'): LogFn =>
    (objOrMsg: object | string, msg?: string) => {
      const loud = level === 'warn' || level === 'error'
      if (!loud && !verbose) return
      const fields = typeof objOrMsg === 'string' ? {} : { ...bindings, ...objOrMsg }
      const text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '')
      const err = (fields as { err?: unknown }).err
      if (err instanceof Error) (fields as { err?: unknown }).err = err.message
      const detail = Object.keys(fields).length ? ` ${safeJson(fields)}` : ''
      if (loud) out.warn(`${text}${detail}`)
      else out.note(out.errStyle.dim(`${level}: ${text}${detail}`))
    }
  return {
    trace: make('trace'),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (more) => createCliLogger(out, verbose, { ...bindings, ...more }),
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch {
    return '[unprintable]'
  }
}
