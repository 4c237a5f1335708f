export { SETTINGS, SETTING_NAMES, isSettingName, settingDefinition } from './settings.js'
export type {
  SettingDefinition,
  SettingEffect,
  SettingKind,
  SettingName,
  SettingSource,
  SettingValue,
  SettingValues,
} from './settings.js'
export { loadConfig, hasCredentials, getSetting } from './load-config.js'
export type { Config, LoadConfigOptions, ResolvedSetting } from './load-config.js'
export { setSetting, setSettings, unsetSetting } from './stored-settings.js'
export type { StoredChange } from './stored-settings.js'
export { publicSettingsView, describeSettings } from './public-view.js'
export type {
  PublicSetting,
  PublicSecretSetting,
  PublicPlainSetting,
  PublicSettingsView,
  SettingDescription,
} from './public-view.js'
export { parseSetting, formatSetting, textOf } from './parse-setting.js'
export { settingNameOf } from './setting-name.js'
export {
  InvalidSettingError,
  UnknownSettingError,
  SettingNotStorableError,
  ConfigFileError,
} from './errors.js'
export type { ValueOrigin } from './errors.js'
export {
  defaultDataDir,
  configFilePath,
  exoCliConfigCandidates,
  homeDir,
  CONFIG_FILE_NAME,
} from './paths.js'
export type { Environment } from './paths.js'
export { readConfigFile } from './config-file.js'
export { readExoCliConfig, parseExoCliConfig } from './exo-cli-config.js'
export type { ExoCliAccount, ExoCliReadResult, CommandRunner } from './exo-cli-config.js'
export { apiEndpointFor } from './api-endpoint.js'
export {
  ZONES,
  INSTANCE_FAMILIES,
  INSTANCE_SIZES,
  isZone,
  canonicalInstanceType,
  isGpuInstanceType,
} from './exoscale-names.js'
export type { Zone, InstanceFamily, InstanceSize } from './exoscale-names.js'
export { parseListenAddress, formatListenAddress } from './listen-address.js'
export type { ListenAddress } from './listen-address.js'
export { canonicalCidr, canonicalCidrList } from './cidr.js'
export { parseByteSize } from './byte-size.js'
export { compareVersions } from './text-formats.js'
