export { startSimulator, createSimulator, createSimulatorHandler } from './simulator.js'
export type {
  Simulator,
  SimulatorCore,
  SimulatorOptions,
  SimulatorState,
  RecordedRequest,
} from './simulator.js'
export { FaultRegistry } from './faults.js'
export type { FaultHandle, FaultKind, FaultMatch, FaultSpec, ServerErrorStatus } from './faults.js'
export {
  verifySignature,
  parseAuthorization,
  signedQueryArgs,
  signingMessage,
  hmacSignature,
  SIGNATURE_SCHEME,
  DEFAULT_MAX_EXPIRES_AHEAD_SECONDS,
} from './signature.js'
export type {
  ParsedAuthorization,
  SignatureCheck,
  SignatureFailure,
  VerifySignatureInput,
} from './signature.js'
export { ExoscaleSpec, SPEC_URL } from './spec.js'
export type { SpecOperation, SpecParameter, RouteMatch } from './spec.js'
export { INSTANCE_TYPES, GPU_FAMILIES, DEFAULT_QUOTA_LIMITS, templatesFor } from './catalog.js'
export type { InstanceTypeEntry, TemplateEntry } from './catalog.js'
export { ZONES, DEFAULT_ZONE, isZoneName } from './types.js'
export type {
  ZoneName,
  InstanceState,
  OperationState,
  OperationReason,
  PublicIpAssignment,
  SimulatorCredentials,
  InstanceView,
  OperationView,
  SecurityGroupView,
  SecurityGroupRuleView,
  QuotaView,
  InstanceEvent,
} from './types.js'
export {
  VmFaultRegistry,
  DEFAULT_PHASE_MS,
  VM_BOOT_PHASES,
  readCloudConfig,
  CloudConfigError,
  parseNginxConf,
  compileStandinSite,
  StandinUnsupportedError,
} from './vm/index.js'
export type {
  VmController,
  VmOptions,
  VmOllamaOptions,
  VmPhaseTimings,
  ResolvedVmOptions,
  VmInfo,
  VmEvent,
  VmEventType,
  VmFaultSpec,
  VmFaultKind,
  VmFaultHandle,
  VmFaultMatch,
  VmBootPhase,
  VmBootState,
  VmBootStatus,
  ProxyKind,
  WatchdogDecision,
  CloudConfig,
  CloudFile,
  NginxDirective,
} from './vm/index.js'
export { FakeOllama, startFakeOllama, DEFAULT_FAKE_MODELS } from './fake-ollama.js'
export type {
  FakeModel,
  FakeOllamaBehavior,
  FakeOllamaOptions,
  FakeRequestRecord,
} from './fake-ollama.js'
