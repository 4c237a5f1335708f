import type { CachedAnswer, MetadataCache, MetadataKey } from './ports.js'

/** The default MetadataCache: last answers kept in memory (lost on restart). */
export class MemoryMetadataCache implements MetadataCache {
  readonly #answers = new Map<MetadataKey, CachedAnswer>()

  get(key: MetadataKey): CachedAnswer | undefined {
    return this.#answers.get(key)
  }

  set(key: MetadataKey, answer: CachedAnswer): void {
    this.#answers.set(key, answer)
  }
}
