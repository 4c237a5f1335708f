export { createExoscaleClient } from './client.js'
export type { ExoscaleClient, ExoscaleClientOptions } from './client.js'
export type { CallOptions, WaitOptions } from './call-options.js'
export {
  ExoscaleError,
  isExoscaleError,
  EXOSCALE_ERROR_CODES,
  EXOSCALE_ERROR_KINDS,
} from './errors.js'
export type { ExoscaleErrorCode, ExoscaleErrorDetails, ExoscaleErrorOperation } from './errors.js'
export {
  parseErrorBody,
  codeForStatus,
  errorFromResponse,
  errorFromOperation,
} from './error-mapping.js'
export {
  signRequest,
  expiresAt,
  DEFAULT_EXPIRES_IN_SECONDS,
  MAX_EXPIRES_IN_SECONDS,
} from './sign.js'
export type { SignRequestInput, SignableQuery } from './sign.js'
export { DEFAULT_ZONE, zoneEndpoint, resolveBaseUrl, assertZoneName } from './endpoint.js'
export {
  DEFAULT_RETRY_OPTIONS,
  backoffDelayMs,
  decideRetry,
  isIdempotentMethod,
  isRetryableStatus,
  parseRetryAfter,
} from './retry-policy.js'
export type { RetryOptions, RetryDecision, RetryDecisionInput } from './retry-policy.js'
export { DEFAULT_POLL_INTERVAL_MS, pollIntervalMs } from './poll-interval.js'
export { MAX_CONSECUTIVE_POLL_ERRORS } from './waiting.js'
export { matchesLabels, filterByLabels, labelsQueryValue } from './labels.js'
export {
  parseInstanceTypeName,
  instanceTypeName,
  selectInstanceType,
} from './instance-type-selection.js'
export type { InstanceTypeName } from './instance-type-selection.js'
export { newestTemplateNamed } from './template-selection.js'
export { validateCreateInstance } from './instances.js'
export type { ListInstancesOptions, StartInstanceOptions } from './instances.js'
export type { ListTemplatesOptions } from './templates.js'
export type { ListSecurityGroupsOptions } from './security-groups.js'
export type { FetchFn } from './http.js'
export type {
  AddSecurityGroupRuleRequest,
  CreateInstanceRequest,
  CreateSecurityGroupRequest,
  Instance,
  InstanceState,
  InstanceType,
  InstanceTypeFamily,
  InstanceTypeSize,
  Labels,
  Operation,
  OperationReason,
  OperationState,
  Quota,
  SecurityGroup,
  SecurityGroupRule,
  StartInstanceRequest,
  Template,
  TemplateVisibility,
  Zone,
  ZoneName,
} from './schema-types.js'
