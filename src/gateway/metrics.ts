import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
} from 'prom-client'

/** The phases of a cold start, as the provisioner reports them (DESIGN §3). */
export type ColdStartPhase =
  'creating' | 'booting' | 'installing' | 'pulling_image' | 'pulling_model' | 'ready' | 'total'

interface MetricValue {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

interface MetricSnapshot {
  name: string
  help: string
  type: 'counter' | 'histogram'
  values: MetricValue[]
  aggregator: 'sum'
}

/**
 * A counter with two labels for the per-request hot path: an increment is two Map lookups and no
 * allocation (prom-client hashes the label object on every call). Registered on the same
 * Registry through prom-client's metric interface (name, help, type, get()).
 */
class HotCounter {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #values = new Map<string | number, Map<string | number, MetricValue>>()
  #series = 0
  readonly name: string
  readonly help: string
  readonly labelNames: readonly [string, string]
  /** Series beyond this many are counted under the second label "other" (bounded cardinality). */
  readonly maxSeries: number

  constructor(
    name: string,
    help: string,
    labelNames: readonly [string, string],
    maxSeries = 10_000,
  ) {
    this.name = name
    this.help = help
    this.labelNames = labelNames
    this.maxSeries = maxSeries
  }

  inc(a: string | number, b: string | number, by = 1): void {
    let inner = this.#values.get(a)
    if (!inner) {
      inner = new Map()
      this.#values.set(a, inner)
    }
    const entry = inner.get(b)
    if (entry) {
      entry.value += by
      return
    }
    if (this.#series >= this.maxSeries && b !== 'other') return this.inc(a, 'other', by)
    this.#series++
    const [la, lb] = this.labelNames
    inner.set(b, { labels: { [la]: a, [lb]: b }, value: by })
  }

  /** The current value for one label pair. */
  value(a: string | number, b: string | number): number {
    return this.#values.get(a)?.get(b)?.value ?? 0
  }

  get(): MetricSnapshot {
    const values: MetricValue[] = []
    for (const inner of this.#values.values()) for (const v of inner.values()) values.push(v)
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' }
  }
}

interface HistogramSeries {
  labels: Record<string, string>
  counts: Float64Array
  sum: number
  count: number
}

/** A labelled histogram with fixed buckets for the hot path (same reason as HotCounter). */
class HotHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #series = new Map<string, HistogramSeries>()
  readonly name: string
  readonly help: string
  readonly labelName: string
  readonly buckets: readonly number[]

  constructor(name: string, help: string, labelName: string, buckets: readonly number[]) {
    this.name = name
    this.help = help
    this.labelName = labelName
    this.buckets = buckets
  }

  observe(label: string, value: number): void {
    let series = this.#series.get(label)
    if (!series) {
      series = {
        labels: { [this.labelName]: label },
        counts: new Float64Array(this.buckets.length),
        sum: 0,
        count: 0,
      }
      this.#series.set(label, series)
    }
    const { buckets } = this
    for (let i = 0; i < buckets.length; i++) {
      if (value <= (buckets[i] as number)) {
        series.counts[i] = (series.counts[i] as number) + 1
        break
      }
    }
    series.sum += value
    series.count++
  }

  get(): MetricSnapshot {
    const values: MetricValue[] = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i] as number
        values.push({
          labels: { ...s.labels, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        })
      })
      values.push({
        labels: { ...s.labels, le: '+Inf' },
        value: s.count,
        metricName: `${this.name}_bucket`,
      })
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' }
  }
}

const LATENCY_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
]

export interface GatewayMetricsOptions {
  /** Collect Node process metrics (RSS, event-loop lag, GC); default true. */
  defaultMetrics?: boolean
  /** Read at scrape time: forwarded requests in flight and requests held for a wake. */
  gauges?: { inFlight: () => number; held: () => number }
}

/**
 * The gateway's Prometheus metrics, on a Registry of its own (several gateways in one process,
 * as in tests, never collide). `/metrics` serves `registry.metrics()`.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly wakes: Counter
  readonly coldStart: Histogram<'phase'>
  readonly #requests = new HotCounter(
    'exollama_gateway_requests_total',
    'Requests answered, by route template and HTTP status (499: client went away).',
    ['route', 'status'],
  )
  readonly #tokens = new HotCounter(
    'exollama_gateway_tokens_total',
    'Tokens reported by the upstream (kind: prompt or eval), by model.',
    ['kind', 'model'],
    1000,
  )
  readonly #latency = new HotHistogram(
    'exollama_gateway_upstream_latency_seconds',
    'Time from forwarding a request to the upstream response headers.',
    'route',
    LATENCY_BUCKETS,
  )

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry]
    const gauges = options.gauges
    this.registry.registerMetric(this.#requests as unknown as Metric) // prom-client's metric interface: name, help, type, get()
    new Gauge({
      name: 'exollama_gateway_requests_in_flight',
      help: 'Forwarded requests in flight (held ones included).',
      registers,
      collect() {
        this.set(gauges?.inFlight() ?? 0)
      },
    })
    new Gauge({
      name: 'exollama_gateway_held_requests',
      help: 'Requests waiting for the instance to become ready.',
      registers,
      collect() {
        this.set(gauges?.held() ?? 0)
      },
    })
    this.wakes = new Counter({
      name: 'exollama_gateway_wakes_total',
      help: 'Wakes started by requests that found the instance asleep (one per burst).',
      registers,
    })
    this.coldStart = new Histogram({
      name: 'exollama_gateway_cold_start_seconds',
      help: 'Duration of each cold-start phase, reported by the provisioner.',
      labelNames: ['phase'] as const,
      buckets: [1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800],
      registers,
    })
    this.registry.registerMetric(this.#latency as unknown as Metric)
    this.registry.registerMetric(this.#tokens as unknown as Metric)
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'exollama_' })
    }
  }

  /** Counts one answered request. */
  countRequest(route: string, status: number): void {
    this.#requests.inc(route, status)
  }

  /** How many requests were answered on a route with a status (tests, dashboard). */
  requestCount(route: string, status: number): number {
    return this.#requests.value(route, status)
  }

  /** Records the time to the upstream's response headers. */
  observeUpstreamLatency(route: string, seconds: number): void {
    this.#latency.observe(route, seconds)
  }

  /** Adds tokens the upstream reported. */
  countTokens(kind: 'prompt' | 'eval', model: string, count: number): void {
    this.#tokens.inc(kind, model, count)
  }

  /** The provisioner (through the app) reports how long a cold-start phase took. */
  observeColdStartPhase(phase: ColdStartPhase, seconds: number): void {
    this.coldStart.observe({ phase }, seconds)
  }

  /** The Prometheus text exposition and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
