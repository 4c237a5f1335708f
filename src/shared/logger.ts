import { pino, type DestinationStream } from 'pino'

/**
 * The logging seam. The shape is pino's, so a pino logger is a Logger; tests pass silentLogger
 * or a capturing logger. Log structured fields, never secrets (Secret values print as
 * "[redacted]", and the pino instance redacts the usual header and key fields too).
 */
export interface LogFn {
  (msg: string): void
  (obj: object, msg?: string): void
}

export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child(bindings: Record<string, unknown>): Logger
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'

/** Field paths pino replaces with "[redacted]" wherever they appear. */
export const REDACT_PATHS = [
  'authorization',
  'apiSecret',
  'apiKey',
  'secret',
  'key',
  'ollamaKey',
  'privateKey',
  'password',
  '*.authorization',
  '*.apiSecret',
  '*.apiKey',
  '*.secret',
  '*.ollamaKey',
  '*.privateKey',
  '*.password',
  'headers.authorization',
  'headers["x-ollama-key"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-ollama-key"]',
  'req.headers["x-api-key"]',
]

export interface CreateLoggerOptions {
  level?: LogLevel
  destination?: DestinationStream
  name?: string
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'exollama',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    options.destination,
  )
}

const noop: LogFn = () => {}

export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
}
