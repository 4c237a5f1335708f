import { familyOf, type ErrorFamily } from './errors.js'
import type { MetadataKey } from './ports.js'

/** What the gateway does with a matched path. */
export type RouteKind =
  /** `GET|HEAD /`: answered by the gateway ("Ollama is running"). */
  | 'root'
  /** Forwarded to the instance (wakes it, counts as activity). */
  | 'forward'
  /** Metadata: forwarded and cached while ready, answered from cache while asleep, never activity. */
  | 'cached'
  /** Model admin: refused with 403 unless enabled by config or an admin key; then forwarded. */
  | 'admin'
  | 'management'
  | 'metrics'
  | 'dashboard'

export type ManagementAction =
  'status' | 'start' | 'stop' | 'destroy' | 'events' | 'settings' | 'usage'

export interface Route {
  /** The route template, also the metrics label, e.g. `/api/chat`, `/v1/models/:model`. */
  id: string
  kind: RouteKind
  /** Allowed methods (HEAD is listed where it is allowed). */
  methods: readonly string[]
  family: ErrorFamily
  cacheKey?: MetadataKey
  management?: ManagementAction
  /** Routes that may stream their answer (NDJSON or SSE). */
  streams?: boolean
}

const GET = ['GET', 'HEAD'] as const
const POST = ['POST'] as const

function route(
  id: string,
  kind: RouteKind,
  methods: readonly string[],
  extra: Partial<Route> = {},
): Route {
  return { id, kind, methods, family: familyOf(id), ...extra }
}

const EXACT = new Map<string, Route>(
  [
    route('/', 'root', GET),
    route('/api/version', 'cached', GET, { cacheKey: 'version' }),
    route('/api/tags', 'cached', GET, { cacheKey: 'tags' }),
    route('/api/ps', 'cached', GET, { cacheKey: 'ps' }),
    route('/v1/models', 'cached', GET, { cacheKey: 'models' }),
    route('/api/generate', 'forward', POST, { streams: true }),
    route('/api/chat', 'forward', POST, { streams: true }),
    route('/api/embed', 'forward', POST),
    route('/api/embeddings', 'forward', POST),
    route('/api/show', 'forward', POST),
    route('/v1/chat/completions', 'forward', POST, { streams: true }),
    route('/v1/completions', 'forward', POST, { streams: true }),
    route('/v1/embeddings', 'forward', POST),
    route('/api/pull', 'admin', POST, { streams: true }),
    route('/api/push', 'admin', POST, { streams: true }),
    route('/api/create', 'admin', POST, { streams: true }),
    route('/api/copy', 'admin', POST),
    route('/api/delete', 'admin', ['DELETE']),
    route('/metrics', 'metrics', GET),
    route('/exollama/v1/status', 'management', GET, { management: 'status' }),
    route('/exollama/v1/events', 'management', ['GET'], { management: 'events' }),
    route('/exollama/v1/start', 'management', POST, { management: 'start' }),
    route('/exollama/v1/stop', 'management', POST, { management: 'stop' }),
    route('/exollama/v1/destroy', 'management', POST, { management: 'destroy' }),
    route('/exollama/v1/settings', 'management', ['GET', 'HEAD', 'PUT'], {
      management: 'settings',
    }),
    route('/exollama/v1/usage', 'management', GET, { management: 'usage' }),
  ].map((r) => [r.id, r]),
)

const MODEL = route('/v1/models/:model', 'forward', GET)
const BLOB = route('/api/blobs/:digest', 'admin', ['HEAD', 'POST'])
const DASHBOARD = route('/ui', 'dashboard', GET)

/** The one segment after `prefix`, when there is exactly one and it is not empty. */
function param(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix)) return undefined
  const rest = path.slice(prefix.length)
  return rest.length > 0 && !rest.includes('/') ? rest : undefined
}

/** The route for a checked path (see request-target.ts), or undefined: 404, never forwarded. */
export function matchRoute(path: string): Route | undefined {
  const exact = EXACT.get(path)
  if (exact) return exact
  if (param(path, '/v1/models/')) return MODEL
  // The whole /api/blobs/ subtree is model admin: refused (403) unless enabled, whatever follows.
  if (path.startsWith('/api/blobs/')) return BLOB
  if (path === '/ui' || path.startsWith('/ui/')) return DASHBOARD
  return undefined
}

/** The model id in `/v1/models/:model` (still percent-encoded, as sent). */
export function modelParam(path: string): string | undefined {
  return param(path, '/v1/models/')
}

/** Whether a `/api/blobs/…` path names exactly one digest (the only shape ever forwarded). */
export function isBlobPath(path: string): boolean {
  return param(path, '/api/blobs/') !== undefined
}
