export { createGateway } from './gateway.js'
export type { CreateGatewayInput, CloseOptions, Gateway, GatewayStats } from './gateway.js'
export type {
  ActivitySink,
  Backend,
  BackendState,
  CachedAnswer,
  DashboardHandler,
  EnsureReadyInput,
  KeyIdentity,
  KeyVerifier,
  Management,
  ManagementContext,
  ManagementEvent,
  MetadataCache,
  MetadataKey,
  Upstream,
  UsageRecord,
  UsageSink,
  WakeReason,
} from './ports.js'
export { StaticBackend, parseBackendUrl } from './static-backend.js'
export type { StaticBackendOptions } from './static-backend.js'
export { MemoryMetadataCache } from './memory-cache.js'
export { GatewayMetrics } from './metrics.js'
export type { ColdStartPhase, GatewayMetricsOptions } from './metrics.js'
export { DEFAULT_GATEWAY_OPTIONS, resolveGatewayOptions } from './options.js'
export type { GatewayLimits, GatewayOptions, GatewayOptionsInput } from './options.js'
export { GatewayError, errorBody, openAiErrorType } from './errors.js'
export type { ErrorFamily } from './errors.js'
export { presentedKey } from './auth.js'
export { checkRequestTarget } from './request-target.js'
export {
  hostAllowed,
  isLoopbackAddress,
  isLoopbackListenHost,
  originAllowed,
} from './host-guard.js'
export type { HostPolicy } from './host-guard.js'
