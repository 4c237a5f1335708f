import type { Dispatcher } from 'undici'
import type { InstanceRecord } from '../store/index.js'
import type { InstanceEndpoint } from './instance-api.js'
import { recordView } from './records.js'
import type { ProvisionerStatus } from './status.js'

/** Where to send requests for the ready instance (the gateway's `Upstream`). */
export interface InstanceUpstream {
  /** `https://<ip>:11435`: scheme, host and port only. */
  readonly origin: string
  /** The instance's pinned TLS agent. */
  readonly dispatcher: Dispatcher
  /** `X-Ollama-Key`. Never log these. */
  readonly headers: Readonly<Record<string, string>>
}

export interface ReadyInstance extends InstanceUpstream {
  readonly instance: NonNullable<ProvisionerStatus['instance']>
}

export interface EndpointCacheOptions {
  /** Where the instance's nginx answers. */
  instanceOrigin: (ip: string, instanceId: string) => string
  /** The TLS agent pinned to an instance certificate. */
  createAgent: (certPem: string) => Dispatcher
}

/**
 * One endpoint (origin, pinned agent, key header) per instance, kept while its certificate and
 * address stay the same: agents hold connections, so they are reused and closed when replaced.
 */
export class EndpointCache {
  readonly #o: EndpointCacheOptions
  readonly #cache = new Map<string, { fingerprint: string; endpoint: InstanceEndpoint }>()

  constructor(options: EndpointCacheOptions) {
    this.#o = options
  }

  get(record: InstanceRecord): InstanceEndpoint {
    const cached = this.#cache.get(record.instanceId)
    if (
      cached &&
      cached.fingerprint === record.tlsFingerprint &&
      cached.endpoint.origin === this.#o.instanceOrigin(record.ip ?? '', record.instanceId)
    ) {
      return cached.endpoint
    }
    if (cached) void closeDispatcher(cached.endpoint.dispatcher)
    const endpoint: InstanceEndpoint = {
      instanceId: record.instanceId,
      origin: this.#o.instanceOrigin(record.ip ?? '0.0.0.0', record.instanceId),
      dispatcher: this.#o.createAgent(record.tlsCertPem),
      headers: Object.freeze({ 'X-Ollama-Key': record.secrets.ollamaKey.reveal() }),
    }
    this.#cache.set(record.instanceId, { fingerprint: record.tlsFingerprint, endpoint })
    return endpoint
  }

  /** Forgets an instance's endpoint and closes its agent. */
  drop(instanceId: string): void {
    const cached = this.#cache.get(instanceId)
    if (!cached) return
    this.#cache.delete(instanceId)
    void closeDispatcher(cached.endpoint.dispatcher)
  }

  dropAll(): void {
    for (const id of [...this.#cache.keys()]) this.drop(id)
  }

  /** The ready instance's upstream, as `ensureReady` hands it out. */
  ready(record: InstanceRecord): ReadyInstance {
    const endpoint = this.get(record)
    return {
      origin: endpoint.origin,
      dispatcher: endpoint.dispatcher,
      headers: endpoint.headers,
      instance: recordView(record),
    }
  }
}

async function closeDispatcher(dispatcher: Dispatcher): Promise<void> {
  try {
    await dispatcher.close()
  } catch {
    // Closing a dead instance's agent can only fail in uninteresting ways.
  }
}
