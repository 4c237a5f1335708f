export { openStore, STORE_FILE_NAME } from './open-store.js'
export type { OpenStoreOptions, Store, StoreHealth } from './open-store.js'
export type { StorePragmas } from './sqlite.js'
export { BUSY_TIMEOUT_MS } from './sqlite.js'
export { SCHEMA_VERSION } from './migrations.js'
export {
  StoreError,
  SchemaTooNewError,
  LeaseLostError,
  StoreConflictError,
  StoreInputError,
} from './errors.js'
export type { Fence } from './fence.js'
export type { Lease, LeaseRepository } from './leases.js'
export { INSTANCE_STATES } from './instance-records.js'
export type {
  InstanceRecord,
  InstanceInput,
  InstancePatch,
  InstanceRepository,
  InstanceSecrets,
  InstanceState,
} from './instance-records.js'
export { INTENT_STATES } from './intents.js'
export type { Intent, IntentInput, IntentRepository, IntentState } from './intents.js'
export type {
  EventFilter,
  EventPage,
  EventRepository,
  LifecycleEvent,
  LifecycleEventInput,
} from './events.js'
export type {
  SessionCost,
  UsageLedger,
  UsageRow,
  UsageSession,
  UsageTotals,
} from './usage-ledger.js'
export type {
  RequestUsage,
  RequestUsageOptions,
  RequestUsageRecorder,
  RequestUsageStats,
  RequestUsageTotals,
} from './request-usage.js'
export { builtInPriceList, createPricing } from './prices.js'
export type { PriceList, Pricing, PricingOptions } from './prices.js'
export { API_KEY_PREFIX, API_KEY_SCOPES, generateApiKey, isWellFormedApiKey } from './api-keys.js'
export type {
  ApiKeyRecord,
  ApiKeyRepository,
  ApiKeyScope,
  CreatedApiKey,
  VerifiedApiKey,
} from './api-keys.js'
export { METADATA_ROUTES } from './metadata-cache.js'
export type { CachedMetadata, MetadataCacheRepository, MetadataRoute } from './metadata-cache.js'
export { utcDay, utcMonthStart, splitByUtcDay } from './utc-days.js'
