import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Secret } from '../shared/index.js'

/**
 * The ports the gateway depends on. `src/app/` fills them in (provisioner, store, key table,
 * usage ledger); tests fill them with small fakes. The gateway never imports what is behind them.
 */

/** The lifecycle states of the instance, exactly the words of the status object (DESIGN §2). */
export type BackendState =
  'absent' | 'provisioning' | 'booting' | 'ready' | 'stopping' | 'stopped' | 'destroying' | 'error'

/** Where forwarded requests go: a fixed origin, the (pinned) dispatcher and the instance key. */
export interface Upstream {
  /** Scheme, host and port only, e.g. `https://127.10.0.2:11435`. Never a path. */
  readonly origin: string
  /** The dispatcher every request to `origin` uses (for an instance: the pinned TLS agent). */
  readonly dispatcher: Dispatcher
  /** Added to every forwarded request (the instance key header). Never logged. */
  readonly headers: Readonly<Record<string, string>>
}

/** Why a request wants the instance: kept in the wake audit log ("who woke it?"). */
export interface WakeReason {
  route: string
  keyId?: string
  clientIp?: string
}

export interface EnsureReadyInput {
  /** Aborts when this caller stops waiting (client gone, wake timeout). It must not cancel a wake other callers share. */
  signal: AbortSignal
  reason: WakeReason
}

/** Activity accounting: the idle timer runs only while nothing is in flight. */
export interface ActivitySink {
  /** Marks the start of an activity and returns the function that ends it (idempotent). */
  begin(): () => void
}

/** The instance as the gateway sees it. */
export interface Backend {
  /** The current lifecycle state (cheap, synchronous). */
  state(): BackendState
  /**
   * Resolves with the upstream once the instance is ready, waking it if needed. One wake serves
   * every caller (the backend is single-flight); each caller passes its own signal.
   */
  ensureReady(input: EnsureReadyInput): Promise<Upstream>
  /**
   * Optional fast path: the upstream when the instance is ready right now, without waking
   * anything (undefined otherwise). The gateway calls `ensureReady` when this is absent or
   * answers undefined.
   */
  readyUpstream?(): Upstream | undefined
  readonly activity: ActivitySink
}

/** A verified client key. */
export interface KeyIdentity {
  id: string
  name: string
  /** Admin keys may use the model-admin routes and the mutating management routes. */
  admin: boolean
}

/** Checks a presented client key (keys are stored hashed; compare digests in constant time). */
export interface KeyVerifier {
  verify(key: Secret): KeyIdentity | undefined | Promise<KeyIdentity | undefined>
}

/** One forwarded request's usage, read from the upstream's final chunk. */
export interface UsageRecord {
  /** The client key's id, or null for an anonymous (loopback) client. */
  keyId: string | null
  /** The route template, e.g. `/api/chat`. */
  route: string
  /** The model the upstream answered for, or null when the response did not say. */
  model: string | null
  promptTokens: number | null
  evalTokens: number | null
  /** The HTTP status sent to the client; 499 when the client went away first. */
  status: number
  durationMs: number
}

/** Receives per-request usage; the implementation batches (no synchronous disk write per request). */
export interface UsageSink {
  record(entry: UsageRecord): void
}

/** The metadata answers served while the instance sleeps. */
export type MetadataKey = 'tags' | 'version' | 'ps' | 'models'

/** An upstream answer exactly as received (body bytes as UTF-8 text). */
export interface CachedAnswer {
  contentType: string
  body: string
  /** When it was stored (ms since epoch). */
  storedAt: number
}

/** Last known answers of `/api/tags`, `/api/version`, `/api/ps`, `/v1/models`. */
export interface MetadataCache {
  get(key: MetadataKey): CachedAnswer | undefined
  set(key: MetadataKey, answer: CachedAnswer): void
}

/** What management calls receive. */
export interface ManagementContext {
  /** Aborts when the client goes away. */
  signal: AbortSignal
  query: URLSearchParams
  identity: KeyIdentity | undefined
}

/** One server-sent event: `event: type`, `id: id`, `data: JSON(data)`. */
export interface ManagementEvent {
  type?: string
  id?: string
  data: unknown
}

/**
 * The `/exollama/v1/*` routes. Results are sent as JSON with status 200; a thrown
 * `ExollamaError` becomes an error answer whose status follows its `kind`.
 */
export interface Management {
  status(ctx: ManagementContext): unknown
  start(ctx: ManagementContext): Promise<unknown>
  stop(ctx: ManagementContext): Promise<unknown>
  destroy(ctx: ManagementContext): Promise<unknown>
  /** A live event feed; iteration stops when `ctx.signal` aborts. */
  events(ctx: ManagementContext): AsyncIterable<ManagementEvent>
  getSettings(ctx: ManagementContext): unknown
  putSettings(body: unknown, ctx: ManagementContext): unknown
  usage(ctx: ManagementContext): unknown
}

/** Serves `/ui` and `/ui/*` (the dashboard). */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>
