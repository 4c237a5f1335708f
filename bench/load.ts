import { performance } from 'node:perf_hooks'
import { Agent, Client, Pool } from 'undici'

/** A small load generator on undici: sequential latency, closed-loop throughput, concurrent streams. */
export interface Target {
  name: string
  origin: string
}

export interface RequestSpec {
  method: 'GET' | 'POST'
  path: string
  body?: string
}

function headersFor(spec: RequestSpec): Record<string, string> {
  return spec.body === undefined ? {} : { 'content-type': 'application/json' }
}

/** `n` requests one after another on one keep-alive connection; milliseconds each. */
export async function sequentialLatency(
  target: Target,
  spec: RequestSpec,
  n: number,
): Promise<number[]> {
  const client = new Client(target.origin, { pipelining: 1 })
  const out: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const res = await client.request({
        method: spec.method,
        path: spec.path,
        body: spec.body ?? null,
        headers: headersFor(spec),
      })
      await res.body.dump({ limit: Infinity })
      if (res.statusCode !== 200) throw new Error(`${target.name}: status ${res.statusCode}`)
      out.push(performance.now() - t0)
    }
  } finally {
    await client.close()
  }
  return out
}

export interface LoopResult {
  requests: number
  errors: number
  seconds: number
  rps: number
}

/** `concurrency` workers sending back-to-back requests for `durationMs`. */
export async function closedLoop(
  target: Target,
  spec: RequestSpec,
  concurrency: number,
  durationMs: number,
): Promise<LoopResult> {
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 })
  let requests = 0
  let errors = 0
  const start = performance.now()
  const deadline = start + durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      try {
        const res = await pool.request({
          method: spec.method,
          path: spec.path,
          body: spec.body ?? null,
          headers: headersFor(spec),
        })
        await res.body.dump({ limit: Infinity })
        if (res.statusCode === 200) requests++
        else errors++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - start) / 1000
  await pool.close()
  return { requests, errors, seconds, rps: requests / seconds }
}

export interface StreamResult {
  completed: number
  errors: number
  chunks: number
  /**
   * Per chunk once every stream is open (chunk index ≥ RAMP_CHUNKS): receive time minus the
   * upstream's created_at (ms).
   */
  chunkLatencies: number[]
  /** The same for each stream's first chunk, which shares the ramp-up with opening all the others. */
  firstChunkLatencies: number[]
}

/** Chunks per stream counted as ramp-up (streams still opening around them). */
export const RAMP_CHUNKS = 2

/**
 * `n` concurrent NDJSON streams; each chunk's delay from the upstream's timestamp to arrival.
 * Stream i starts `i / n * staggerMs` after the first (0 = all at once: every stream then emits
 * its chunks in the same millisecond, a burst rather than a steady load).
 */
export async function concurrentStreams(
  target: Target,
  n: number,
  body: string,
  staggerMs = 0,
): Promise<StreamResult> {
  const agent = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 5000 })
  const latencies: number[] = []
  const first: number[] = []
  let completed = 0
  let errors = 0
  const one = async (i: number) => {
    if (staggerMs > 0) await new Promise((r) => setTimeout(r, (i / n) * staggerMs))
    try {
      const res = await agent.request({
        origin: target.origin,
        method: 'POST',
        path: '/api/generate',
        body,
        headers: { 'content-type': 'application/json' },
      })
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
      let buffer = ''
      let done = false
      let index = 0
      for await (const chunk of res.body) {
        const now = Date.now()
        buffer += (chunk as Buffer).toString('utf8')
        let i = buffer.indexOf('\n')
        while (i >= 0) {
          const line = buffer.slice(0, i)
          buffer = buffer.slice(i + 1)
          const m = /"created_at":"([^"]+)"/.exec(line)
          if (m?.[1]) {
            const latency = now - Date.parse(m[1])
            if (index === 0) first.push(latency)
            if (index >= RAMP_CHUNKS) latencies.push(latency)
            index++
          }
          if (line.includes('"done":true')) done = true
          i = buffer.indexOf('\n')
        }
      }
      if (done) completed++
      else errors++
    } catch {
      errors++
    }
  }
  await Promise.all(Array.from({ length: n }, (_, i) => one(i)))
  await agent.close()
  return {
    completed,
    errors,
    chunks: latencies.length,
    chunkLatencies: latencies,
    firstChunkLatencies: first,
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}
