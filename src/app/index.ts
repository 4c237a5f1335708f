export { INSTANCE_STATES } from './lifecycle.js'
export type {
  InstanceState,
  Lifecycle,
  LifecycleOptions,
  ModelInfo,
  Progress,
  StartOptions,
  StatusObject,
} from './lifecycle.js'
