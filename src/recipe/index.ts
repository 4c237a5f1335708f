export { buildUserData, encodeUserData, decodeUserData } from './user-data.js'
export type { RecipeSettings, UserData } from './user-data.js'
export { generateInstanceCredentials } from './credentials.js'
export type { InstanceCredentials, GenerateCredentialsOptions } from './credentials.js'
export { ubuntuReleaseForTemplate, isGpuInstanceType, UBUNTU_RELEASES } from './instance-kind.js'
export type { UbuntuRelease } from './instance-kind.js'
export { renderNginxConfig, INFERENCE_ROUTE_PATTERNS } from './nginx-config.js'
export type { NginxConfigOptions } from './nginx-config.js'
export { parseBootStatus, BOOT_PHASES, BOOT_STATES } from './boot-status.js'
export type { BootStatus, BootPhase, BootState } from './boot-status.js'
export {
  RecipeSettingError,
  UnsupportedTemplateError,
  UserDataTooLargeError,
  RECIPE_ERROR_CODES,
} from './errors.js'
export {
  validateOllamaKey,
  validateModelName,
  validateImageTag,
  validateKeepAlive,
  validateCidr,
  validateInstanceName,
} from './validate.js'
export {
  INSTANCE_PORT,
  OLLAMA_PORT,
  BOOT_STATUS_PATH,
  VM_PATHS,
  OLLAMA_IMAGE_REPOSITORY,
  DEFAULT_OLLAMA_IMAGE_TAG,
  DEFAULT_KEEP_ALIVE,
  DEFAULT_WATCHDOG_GRACE_S,
  DEFAULT_NVIDIA_DRIVER,
  USER_DATA_LIMIT,
  INSTANCE_CERT_NAME,
  METADATA_SERVER_IP,
} from './constants.js'
export { BOOT_SCRIPT } from './boot-script.js'
export { WATCHDOG_SCRIPT } from './watchdog-script.js'
