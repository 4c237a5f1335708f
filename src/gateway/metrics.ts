import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The phases of a cold start, as the provisioner reports them (DESIGN §3). */
export type ColdStartPhase =
  'creating' | 'booting' | 'installing' | 'pulling_image' | 'pulling_model' | 'ready' | 'total'

/**
 * The gateway's Prometheus metrics, on a Registry of its own (several gateways in one process,
 * as in tests, never collide). `/metrics` serves `registry.metrics()`.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'status'>
  readonly inFlight: Gauge
  readonly held: Gauge
  readonly wakes: Counter
  readonly coldStart: Histogram<'phase'>
  readonly upstreamLatency: Histogram<'route'>
  readonly tokens: Counter<'kind' | 'model'>

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'exollama_gateway_requests_total',
      help: 'Requests answered, by route template and HTTP status (499: client went away).',
      labelNames: ['route', 'status'] as const,
      registers,
    })
    this.inFlight = new Gauge({
      name: 'exollama_gateway_requests_in_flight',
      help: 'Forwarded requests in flight (held ones included).',
      registers,
    })
    this.held = new Gauge({
      name: 'exollama_gateway_held_requests',
      help: 'Requests waiting for the instance to become ready.',
      registers,
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
    this.upstreamLatency = new Histogram({
      name: 'exollama_gateway_upstream_latency_seconds',
      help: 'Time from forwarding a request to the upstream response headers.',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    })
    this.tokens = new Counter({
      name: 'exollama_gateway_tokens_total',
      help: 'Tokens reported by the upstream (kind: prompt or eval), by model.',
      labelNames: ['kind', 'model'] as const,
      registers,
    })
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'exollama_' })
    }
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
