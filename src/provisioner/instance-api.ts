import type { Dispatcher } from 'undici'
import { parseBootStatus, BOOT_STATUS_PATH, type BootStatus } from '../recipe/index.js'
import { ExollamaError, type Clock } from '../shared/index.js'
import { ProvisionerError } from './errors.js'

/**
 * The instance's HTTPS API as the provisioner uses it: the boot status, Ollama's version, tags
 * and model pulls, through nginx (TLS pinned to the instance's own certificate, key in
 * `X-Ollama-Key`).
 */
export interface InstanceEndpoint {
  readonly instanceId: string
  /** `https://<ip>:11435`. */
  readonly origin: string
  /** The pinned TLS agent of this instance. */
  readonly dispatcher: Dispatcher
  /** `X-Ollama-Key`; never logged. */
  readonly headers: Readonly<Record<string, string>>
}

export interface ProbeOptions {
  clock: Clock
  signal?: AbortSignal | undefined
  timeoutMs: number
}

/** What a boot-status poll found. */
export type BootProbe =
  | { kind: 'status'; status: BootStatus }
  /** Not answering yet: connection refused/reset/timed out, or nginx's 503 "booting". */
  | { kind: 'not-yet'; detail: string }

/** Network error codes that mean "the VM is not (fully) up yet". */
const NOT_UP = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

class ProbeTimeout extends Error {}

/** The first `code` along an error's cause chain that is one we know. */
function codesOf(error: unknown): string[] {
  const codes: string[] = []
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') codes.push(code)
    e = (e as { cause?: unknown }).cause
  }
  return codes
}

/** Certificate verification failures: the peer's certificate is not the pinned one. */
const CERT_REFUSED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * The pin check failed: either the pinned agent's own check (tls_pin_mismatch), or the chain
 * check that runs before it (another self-signed certificate is not signed by the pinned one).
 * Either way the handshake ended before any request (or key) was sent.
 */
function pinMismatch(error: unknown, endpoint: InstanceEndpoint): ExollamaError | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    if (e instanceof ExollamaError && e.code === 'tls_pin_mismatch') return e
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && CERT_REFUSED.has(code)) {
      return new ExollamaError(
        'tls_pin_mismatch',
        `instance ${endpoint.instanceId} presented a TLS certificate other than the one exollama made for it (${code}): something else answers at its address, and nothing was sent to it; destroy the instance (exollama destroy)`,
        { kind: 'cloud', cause: error },
      )
    }
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

async function call(
  endpoint: InstanceEndpoint,
  options: ProbeOptions & { method?: 'GET' | 'POST'; path: string; body?: string },
): Promise<Dispatcher.ResponseData> {
  const timeout = new AbortController()
  const timer = options.clock.setTimer(options.timeoutMs, () => timeout.abort(new ProbeTimeout()))
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal
  try {
    return await endpoint.dispatcher.request({
      origin: endpoint.origin,
      path: options.path,
      method: options.method ?? 'GET',
      headers: {
        ...endpoint.headers,
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: options.body }),
      signal,
    })
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    throw error
  } finally {
    timer.cancel()
  }
}

async function readJson(response: Dispatcher.ResponseData): Promise<unknown> {
  const text = await response.body.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function keyRejected(endpoint: InstanceEndpoint): ProvisionerError {
  return new ProvisionerError(
    'instance_key_rejected',
    `instance ${endpoint.instanceId} refused the key this data directory holds for it (401): it was not created with that key; destroy it (exollama destroy) so a new one is made`,
    { kind: 'cloud' },
  )
}

/**
 * One `GET /exollama/boot`. Connection failures, timeouts and the 503 `{"error":"booting"}` nginx
 * answers before the first write are `not-yet` (normal while booting); a pin mismatch, a
 * refused key or a malformed answer throw.
 */
export async function probeBootStatus(
  endpoint: InstanceEndpoint,
  options: ProbeOptions,
): Promise<BootProbe> {
  let response: Dispatcher.ResponseData
  try {
    response = await call(endpoint, { ...options, path: BOOT_STATUS_PATH })
  } catch (error) {
    const pin = pinMismatch(error, endpoint)
    if (pin) throw pin
    if (error instanceof ProbeTimeout) return { kind: 'not-yet', detail: 'no answer in time' }
    const code = codesOf(error).find((c) => NOT_UP.has(c))
    if (code) return { kind: 'not-yet', detail: code }
    if (options.signal?.aborted) throw error
    // TLS handshakes cut by a starting nginx, unknown socket trouble: keep polling.
    return { kind: 'not-yet', detail: codesOf(error)[0] ?? 'connection failed' }
  }
  const body = await readJson(response)
  if (response.statusCode === 401) throw keyRejected(endpoint)
  if (response.statusCode === 503 || response.statusCode === 502 || response.statusCode === 504) {
    return { kind: 'not-yet', detail: `HTTP ${response.statusCode}` }
  }
  const status = response.statusCode === 200 ? parseBootStatus(body) : undefined
  if (!status) {
    throw new ProvisionerError(
      'instance_bad_answer',
      `instance ${endpoint.instanceId} answered ${BOOT_STATUS_PATH} with HTTP ${response.statusCode} and no boot status: it does not run the exollama recipe; destroy it`,
      { kind: 'cloud' },
    )
  }
  return { kind: 'status', status }
}

/** What a version poll found. */
export type VersionProbe =
  | { kind: 'version'; version: string }
  /** nginx is there but Ollama is not answering (502/503/504), or the connection failed. */
  | { kind: 'not-yet'; detail: string }

/**
 * One `GET /api/version` through nginx. A gateway error (Ollama restarting behind nginx) or a
 * connection failure is `not-yet`; a refused key or another answer throws.
 */
export async function probeOllamaVersion(
  endpoint: InstanceEndpoint,
  options: ProbeOptions,
): Promise<VersionProbe> {
  let response: Dispatcher.ResponseData
  try {
    response = await call(endpoint, { ...options, path: '/api/version' })
  } catch (error) {
    const pin = pinMismatch(error, endpoint)
    if (pin) throw pin
    if (error instanceof ProbeTimeout) return { kind: 'not-yet', detail: 'no answer in time' }
    if (options.signal?.aborted) throw error
    return { kind: 'not-yet', detail: codesOf(error)[0] ?? 'connection failed' }
  }
  const body = (await readJson(response)) as { version?: unknown } | undefined
  if (response.statusCode === 401) throw keyRejected(endpoint)
  if ([502, 503, 504].includes(response.statusCode)) {
    return { kind: 'not-yet', detail: `HTTP ${response.statusCode} from /api/version` }
  }
  if (response.statusCode !== 200 || typeof body?.version !== 'string') {
    throw new ProvisionerError(
      'instance_bad_answer',
      `instance ${endpoint.instanceId} answered /api/version with HTTP ${response.statusCode}: that is not Ollama; check the boot log on the instance`,
      { kind: 'cloud' },
    )
  }
  return { kind: 'version', version: body.version }
}

/** Ollama's version through nginx (`GET /api/version`); throws when it is not answering. */
export async function fetchOllamaVersion(
  endpoint: InstanceEndpoint,
  options: ProbeOptions,
): Promise<string> {
  const probe = await probeOllamaVersion(endpoint, options)
  if (probe.kind === 'version') return probe.version
  throw new ProvisionerError(
    'instance_bad_answer',
    `instance ${endpoint.instanceId}: Ollama is not answering (${probe.detail}); check the boot log on the instance`,
    { kind: 'cloud' },
  )
}

/** `GET /api/tags`: the models on the instance (Ollama's JSON, parsed). */
export async function fetchTags(
  endpoint: InstanceEndpoint,
  options: ProbeOptions,
): Promise<{ models: Record<string, unknown>[] }> {
  const response = await call(endpoint, { ...options, path: '/api/tags' })
  const body = (await readJson(response)) as { models?: unknown } | undefined
  if (response.statusCode === 401) throw keyRejected(endpoint)
  if (response.statusCode !== 200 || !Array.isArray(body?.models)) {
    throw new ProvisionerError(
      'instance_bad_answer',
      `instance ${endpoint.instanceId} answered /api/tags with HTTP ${response.statusCode}`,
      { kind: 'cloud' },
    )
  }
  return { models: body.models as Record<string, unknown>[] }
}

/** One progress line of `/api/pull`. */
export interface PullProgress {
  model: string
  status: string
  digest?: string
  completed?: number
  total?: number
}

export interface PullOptions {
  clock: Clock
  signal?: AbortSignal | undefined
  /** Longest silence between two progress lines (default 5 min). */
  stallTimeoutMs?: number
  onProgress?: (progress: PullProgress) => void
}

/**
 * `POST /api/pull {"model", "stream": true}`: streams Ollama's NDJSON progress to `onProgress`
 * until `{"status":"success"}`. An `{"error"}` line, a non-200 answer or a stream that ends
 * without success throws `model_pull_failed` naming EXOLLAMA_MODEL.
 */
export async function pullModel(
  endpoint: InstanceEndpoint,
  model: string,
  options: PullOptions,
): Promise<void> {
  const failed = (why: string, cause?: unknown) =>
    new ProvisionerError(
      'model_pull_failed',
      `could not pull model ${model} onto the instance: ${why}; check the name (EXOLLAMA_MODEL or the pull command) against ollama.com/library`,
      { kind: 'cloud', cause },
    )
  const stallMs = options.stallTimeoutMs ?? 300_000
  const stall = new AbortController()
  let stallTimer = options.clock.setTimer(stallMs, () => stall.abort(new ProbeTimeout()))
  const signal = options.signal ? AbortSignal.any([options.signal, stall.signal]) : stall.signal
  try {
    const response = await endpoint.dispatcher.request({
      origin: endpoint.origin,
      path: '/api/pull',
      method: 'POST',
      headers: { ...endpoint.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream: true }),
      signal,
    })
    if (response.statusCode === 401) {
      await response.body.dump()
      throw keyRejected(endpoint)
    }
    if (response.statusCode !== 200) {
      const body = (await readJson(response)) as { error?: unknown } | undefined
      throw failed(
        `HTTP ${response.statusCode}${typeof body?.error === 'string' ? ` (${body.error.slice(0, 200)})` : ''}`,
      )
    }
    let buffer = ''
    let success = false
    const handle = (line: string) => {
      if (line.trim() === '') return
      let item: Record<string, unknown>
      try {
        item = JSON.parse(line) as Record<string, unknown>
      } catch {
        throw failed('the instance sent a line that is not JSON')
      }
      if (typeof item.error === 'string') throw failed(item.error.slice(0, 300))
      const status = typeof item.status === 'string' ? item.status : ''
      if (status === 'success') success = true
      options.onProgress?.({
        model,
        status,
        ...(typeof item.digest === 'string' ? { digest: item.digest } : {}),
        ...(typeof item.completed === 'number' ? { completed: item.completed } : {}),
        ...(typeof item.total === 'number' ? { total: item.total } : {}),
      })
    }
    for await (const chunk of response.body) {
      stallTimer.cancel()
      stallTimer = options.clock.setTimer(stallMs, () => stall.abort(new ProbeTimeout()))
      buffer += (chunk as Buffer).toString('utf8')
      let newline = buffer.indexOf('\n')
      while (newline >= 0) {
        handle(buffer.slice(0, newline))
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf('\n')
      }
    }
    handle(buffer)
    if (!success) throw failed('the progress stream ended before "success"')
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    if (error instanceof ProvisionerError) throw error
    if (stall.signal.aborted) throw failed(`no progress for ${Math.round(stallMs / 1000)} s`)
    throw failed(codesOf(error)[0] ?? 'connection failed', error)
  } finally {
    stallTimer.cancel()
  }
}
