import { UserError } from '../shared/index.js'

/**
 * The gateway's settings as plain values. `src/config` turns environment variables and the config
 * file into these (EXOLLAMA_WAKE_TIMEOUT seconds → `wakeTimeoutMs`, …); the gateway defines its
 * own shape so it can be built and tested alone.
 */
export interface GatewayLimits {
  /** Requests per minute per client key (or per client IP for anonymous remote clients); 0 = unlimited. */
  requestsPerMinute: number
  /** Bucket size for bursts; defaults to `requestsPerMinute`. */
  burst: number
  /** Forwarded requests in flight per key (held ones included); 0 = unlimited. */
  concurrencyPerKey: number
  /** Apply the two limits above to loopback clients too (off: local use is never throttled). */
  limitLoopback: boolean
}

export interface GatewayOptions {
  /** How long a held request waits for the instance (EXOLLAMA_WAKE_TIMEOUT). */
  wakeTimeoutMs: number
  /** Requests held at once while the instance wakes; more get 503 + Retry-After. */
  maxHeldRequests: number
  /** The Retry-After (seconds) sent with 503s about waking. */
  retryAfterSeconds: number
  /** Largest request body; bigger ones get 413 (checked while streaming for chunked bodies). */
  maxBodyBytes: number
  /** Largest request head (request line + headers); bigger ones get 431. */
  maxHeaderBytes: number
  /** Forward the model-admin routes (/api/pull, /api/delete, …) for every client, not only admin keys. */
  allowModelAdmin: boolean
  /**
   * Require a client key on every route but `GET|HEAD /`. `undefined` = required exactly when
   * the gateway listens on a non-loopback address.
   */
  requireKeys: boolean | undefined
  /** Extra Host names accepted (`name` = any port, `name:port` = that port). */
  allowedHosts: readonly string[]
  /** Browser origins allowed besides loopback ones (`https://app.example`), echoed exactly in CORS. */
  allowedOrigins: readonly string[]
  limits: GatewayLimits
  /** Longest wait for the upstream's response headers; 0 = none (cold loads and long non-streaming generations). */
  upstreamHeadersTimeoutMs: number
  /** Longest silence between two chunks of an upstream body; 0 = none. */
  upstreamIdleTimeoutMs: number
  /** `/api/version` answer while asleep with nothing cached (Ollama itself says 0.0.0 when its version is unknown). */
  versionFallback: string
  /** Send browsers asking `GET /` for HTML to `/ui/` (when a dashboard is mounted). */
  redirectBrowsersToUi: boolean
  /** Heartbeat comment interval on the management event stream. */
  eventsHeartbeatMs: number
}

export type GatewayOptionsInput = Partial<Omit<GatewayOptions, 'limits'>> & {
  limits?: Partial<GatewayLimits>
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  wakeTimeoutMs: 900_000,
  maxHeldRequests: 512,
  retryAfterSeconds: 30,
  maxBodyBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  allowModelAdmin: false,
  requireKeys: undefined,
  allowedHosts: [],
  allowedOrigins: [],
  limits: { requestsPerMinute: 0, burst: 0, concurrencyPerKey: 0, limitLoopback: false },
  upstreamHeadersTimeoutMs: 0,
  upstreamIdleTimeoutMs: 600_000,
  versionFallback: '0.0.0',
  redirectBrowsersToUi: true,
  eventsHeartbeatMs: 15_000,
}

/** Fills in defaults and checks the values a typo could make nonsensical. */
export function resolveGatewayOptions(input: GatewayOptionsInput = {}): GatewayOptions {
  const { limits, ...rest } = input
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined))
  const merged: GatewayOptions = {
    ...DEFAULT_GATEWAY_OPTIONS,
    ...defined,
    requireKeys: input.requireKeys,
    limits: {
      ...DEFAULT_GATEWAY_OPTIONS.limits,
      ...Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== undefined)),
    },
  }
  if (!limits?.burst) merged.limits.burst = merged.limits.requestsPerMinute
  for (const [name, value] of [
    ['wakeTimeoutMs', merged.wakeTimeoutMs],
    ['maxHeldRequests', merged.maxHeldRequests],
    ['maxBodyBytes', merged.maxBodyBytes],
    ['maxHeaderBytes', merged.maxHeaderBytes],
    ['upstreamHeadersTimeoutMs', merged.upstreamHeadersTimeoutMs],
    ['upstreamIdleTimeoutMs', merged.upstreamIdleTimeoutMs],
    ['limits.requestsPerMinute', merged.limits.requestsPerMinute],
    ['limits.concurrencyPerKey', merged.limits.concurrencyPerKey],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new UserError(
        'invalid_gateway_option',
        `gateway option ${name} must be a non-negative number (got ${value}); fix the setting`,
      )
    }
  }
  return merged
}
