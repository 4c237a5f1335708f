export { createProvisioner } from './provisioner.js'
export type {
  CreateProvisionerOptions,
  EnsureReadyOptions,
  InstanceUpstream,
  LifecycleCallOptions,
  ModelSummary,
  Provisioner,
  ReadyInstance,
  ReconcileReport,
  StartOptions,
  WakeReason,
} from './provisioner.js'
export {
  DEFAULT_PROVISIONER_SETTINGS,
  DEFAULT_TUNING,
  provisionerSettingsFromConfig,
} from './settings.js'
export type { IdleAction, ProvisionerSettings, ProvisionerTuning } from './settings.js'
export { PROVISIONER_STATES } from './status.js'
export type {
  BootView,
  ProvisionerProgress,
  ProvisionerState,
  ProvisionerStatus,
  WakeProgress,
} from './status.js'
export { ProvisionerError, isProvisionerError, PROVISIONER_ERROR_CODES } from './errors.js'
export type { ProvisionerErrorCode } from './errors.js'
export { ActivityTracker, IdleTimer } from './activity.js'
export type { IdleTimerOptions } from './activity.js'
export {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NAME_LABEL,
  INTENT_LABEL,
  managedLabels,
  instanceLabels,
} from './labels.js'
export { securityGroupName, ensureSecurityGroup } from './security-group.js'
export type { SecurityGroupSync } from './security-group.js'
export { resolveCreatePlan, templateMinDiskGiB } from './create-plan.js'
export type { CreatePlan } from './create-plan.js'
export { planReconcile } from './reconcile-plan.js'
export type {
  DestroyWhy,
  ReconcileAction,
  ReconcilePlan,
  ReconcilePlanInput,
} from './reconcile-plan.js'
export { assertOllamaVersion, parseVersion, waitForBootReady, BootFailure } from './readiness.js'
export { probeBootStatus, fetchOllamaVersion, fetchTags, pullModel } from './instance-api.js'
export type { BootProbe, InstanceEndpoint, PullProgress } from './instance-api.js'
