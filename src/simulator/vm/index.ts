export { VmManager } from './vm-manager.js'
export type { VmController, VmManagerDeps } from './vm-manager.js'
export { EmulatedVm } from './emulated-vm.js'
export type { VmInfo, VmEvent, VmEventType } from './emulated-vm.js'
export { VmFaultRegistry } from './vm-faults.js'
export type {
  VmFaultSpec,
  VmFaultKind,
  VmFaultHandle,
  VmFaultMatch,
  VmFaultSubject,
} from './vm-faults.js'
export { DEFAULT_PHASE_MS, resolveVmOptions } from './vm-options.js'
export type { VmOptions, VmOllamaOptions, VmPhaseTimings, ResolvedVmOptions } from './vm-options.js'
export { VM_BOOT_PHASES, phasePercent, formatBootStatus } from './boot-status.js'
export type { VmBootPhase, VmBootState, VmBootStatus } from './boot-status.js'
export type { ProxyKind } from './proxy.js'
export { readCloudConfig, CloudConfigError } from './cloud-config.js'
export type { CloudConfig, CloudFile } from './cloud-config.js'
export { parseNginxConf, walkNginxConf, NginxSyntaxError } from './nginx-conf.js'
export type { NginxDirective } from './nginx-conf.js'
export { analyseSite, siteSources, missingFiles, BOOT_STATUS_URI } from './instance-site.js'
export type { InstanceSite, SiteSource, FileReference } from './instance-site.js'
export { compileStandinSite, normalizeUri, StandinUnsupportedError } from './standin-site.js'
export type { StandinSite } from './standin-site.js'
export { findWatchdogUnit, parseTimeSpan, runWatchdogDecide } from './watchdog.js'
export type { WatchdogDecision, WatchdogUnit, WatchdogInputs } from './watchdog.js'
