import { gunzipSync, gzipSync } from 'node:zlib'
import { Document, isScalar, visit, type Scalar } from 'yaml'
import type { Secret } from '../shared/secret.js'
import { BOOT_SCRIPT } from './boot-script.js'
import {
  DEFAULT_KEEP_ALIVE,
  DEFAULT_NVIDIA_DRIVER,
  DEFAULT_OLLAMA_IMAGE_TAG,
  DEFAULT_UBUNTU_RELEASE,
  DEFAULT_WATCHDOG_GRACE_S,
  DOCKER_APT_KEYSERVER,
  DOCKER_APT_KEY_FINGERPRINT,
  OLLAMA_IMAGE_REPOSITORY,
  USER_DATA_LIMIT,
  VM_PATHS,
} from './constants.js'
import { RecipeSettingError, UserDataTooLargeError } from './errors.js'
import { UBUNTU_RELEASES, type UbuntuRelease } from './instance-kind.js'
import { renderNginxConfig } from './nginx-config.js'
import { renderRecipeEnv } from './recipe-env.js'
import { BOOT_UNIT, DOCKER_DROP_IN, WATCHDOG_SERVICE, WATCHDOG_TIMER } from './systemd-units.js'
import {
  validateCidr,
  validateImageTag,
  validateInstanceName,
  validateKeepAlive,
  validateModelName,
  validateNvidiaDriver,
  validateOllamaKey,
  validateSeconds,
  validateTlsPair,
} from './validate.js'
import { WATCHDOG_SCRIPT } from './watchdog-script.js'

/** What the recipe needs to know about one instance. */
export interface RecipeSettings {
  /** Instance name (EXOLLAMA_NAME); 1-63 letters, digits, inner hyphens. */
  name: string
  /** The key nginx checks: at least 16 random characters of [A-Za-z0-9_-]. */
  ollamaKey: Secret
  /** The instance's TLS pair (see generateInstanceCredentials). */
  tls: { certPem: string; keyPem: Secret }
  /** Tag of `ollama/ollama`. Default {@link DEFAULT_OLLAMA_IMAGE_TAG}. */
  ollamaImageTag?: string
  /** OLLAMA_KEEP_ALIVE: seconds or a duration ("30m"); negative keeps models loaded. Default "30m". */
  keepAlive?: string | number
  /** NVIDIA driver, container toolkit and `--gpus=all`. */
  gpu: boolean
  /** Default "22.04". */
  ubuntu?: UbuntuRelease
  /** EXOSCALE_IDLE_TIMEOUT: seconds without inference before the gateway's idle action. */
  idleTimeoutS: number
  /** Extra seconds the on-VM watchdog waits beyond the idle timeout. Default 600. */
  watchdogGraceS?: number
  /** EXOLLAMA_MAX_LIFETIME: the VM powers itself off when its uptime reaches this. */
  maxLifetimeS: number
  /** Models pulled (and loaded) on the VM as soon as Ollama is ready (EXOLLAMA_MODEL). */
  preloadModels?: readonly string[]
  /** Networks nginx accepts connections from (EXOLLAMA_ALLOWED_CIDRS). Default: all. */
  allowedCidrs?: readonly string[]
  /** Ubuntu NVIDIA driver branch (>= 550). Default "580-server". */
  nvidiaDriver?: string
}

export interface UserData {
  /** The `#cloud-config` YAML document. */
  cloudConfig: string
  /** gzip, then base64 (one line, padded): what Exoscale's `user-data` field takes. */
  userData: string
  /** `userData.length`, at most {@link USER_DATA_LIMIT}. */
  base64Length: number
}

const MAX_PRELOAD_MODELS = 20

interface WriteFile {
  path: string
  content: string
  permissions: string
  owner?: string
}

/**
 * Builds the cloud-init user-data of an instance. Pure: the same settings give the same
 * bytes. Every value that reaches a shell, YAML or nginx is validated first (RecipeSettingError
 * with code `recipe_invalid_setting`), and the result must fit Exoscale's limit
 * (UserDataTooLargeError, code `user_data_too_large`).
 */
export function buildUserData(settings: RecipeSettings): UserData {
  const name = validateInstanceName(settings.name)
  const tag = validateImageTag(settings.ollamaImageTag ?? DEFAULT_OLLAMA_IMAGE_TAG)
  const keepAlive = validateKeepAlive(settings.keepAlive ?? DEFAULT_KEEP_ALIVE)
  const ubuntu = settings.ubuntu ?? DEFAULT_UBUNTU_RELEASE
  if (!UBUNTU_RELEASES.includes(ubuntu)) {
    throw new RecipeSettingError('ubuntu', `must be one of ${UBUNTU_RELEASES.join(', ')}`)
  }
  if (typeof settings.gpu !== 'boolean') {
    throw new RecipeSettingError('gpu', 'must be true or false')
  }
  const idle = validateSeconds(settings.idleTimeoutS, 'idleTimeoutS', 1, 30 * 86_400)
  const grace = validateSeconds(
    settings.watchdogGraceS ?? DEFAULT_WATCHDOG_GRACE_S,
    'watchdogGraceS',
    0,
    7 * 86_400,
  )
  const maxLifetime = validateSeconds(settings.maxLifetimeS, 'maxLifetimeS', 60, 365 * 86_400)
  const models = (settings.preloadModels ?? []).map((m, i) =>
    validateModelName(m, `preloadModels[${i}]`),
  )
  if (models.length > MAX_PRELOAD_MODELS) {
    throw new RecipeSettingError(
      'preloadModels',
      `at most ${MAX_PRELOAD_MODELS} models can be preloaded`,
    )
  }
  const cidrs = (settings.allowedCidrs ?? []).map((c, i) => validateCidr(c, `allowedCidrs[${i}]`))
  const driver = validateNvidiaDriver(settings.nvidiaDriver ?? DEFAULT_NVIDIA_DRIVER)
  validateOllamaKey(settings.ollamaKey)
  const tls = validateTlsPair(settings.tls.certPem, settings.tls.keyPem)

  const env = renderRecipeEnv({
    EXOLLAMA_NAME: name,
    EXOLLAMA_UBUNTU: ubuntu,
    EXOLLAMA_GPU: settings.gpu ? 1 : 0,
    EXOLLAMA_NVIDIA_DRIVER: driver,
    EXOLLAMA_OLLAMA_IMAGE: `${OLLAMA_IMAGE_REPOSITORY}:${tag}`,
    EXOLLAMA_KEEP_ALIVE: keepAlive,
    EXOLLAMA_PRELOAD_MODELS: models.join(' '),
    EXOLLAMA_IDLE_TIMEOUT: idle,
    EXOLLAMA_WATCHDOG_GRACE: grace,
    EXOLLAMA_MAX_LIFETIME: maxLifetime,
  })

  const files: WriteFile[] = [
    { path: VM_PATHS.recipeEnv, content: env, permissions: '0644' },
    { path: VM_PATHS.tlsCert, content: tls.certPem, permissions: '0644' },
    { path: VM_PATHS.tlsKey, content: tls.keyPem, permissions: '0600' },
    {
      path: VM_PATHS.nginxConf,
      content: renderNginxConfig({ ollamaKey: settings.ollamaKey, allowedCidrs: cidrs }),
      permissions: '0600',
    },
    { path: VM_PATHS.bootScript, content: BOOT_SCRIPT, permissions: '0755' },
    { path: VM_PATHS.watchdogScript, content: WATCHDOG_SCRIPT, permissions: '0755' },
    { path: VM_PATHS.bootUnit, content: BOOT_UNIT, permissions: '0644' },
    { path: VM_PATHS.watchdogService, content: WATCHDOG_SERVICE, permissions: '0644' },
    { path: VM_PATHS.watchdogTimer, content: WATCHDOG_TIMER, permissions: '0644' },
    { path: VM_PATHS.dockerDropIn, content: DOCKER_DROP_IN, permissions: '0644' },
  ]

  const config: Record<string, unknown> = {
    apt: {
      sources: {
        'docker.list': {
          source:
            'deb [arch=amd64 signed-by=$KEY_FILE] https://download.docker.com/linux/ubuntu $RELEASE stable',
          keyid: DOCKER_APT_KEY_FINGERPRINT,
          keyserver: DOCKER_APT_KEYSERVER,
        },
      },
    },
    write_files: files.map((f) => ({ ...f, owner: f.owner ?? 'root:root' })),
    // All logic lives in the script (set -euo pipefail, error trap, boot status).
    runcmd: [[VM_PATHS.bootScript, 'first-boot']],
    ...(settings.gpu && {
      // The driver may need a reboot; the script leaves the marker and resumes after it.
      power_state: {
        mode: 'reboot',
        delay: 'now',
        message: 'exollama: rebooting to load the NVIDIA driver',
        condition: ['test', '-f', VM_PATHS.rebootMarker],
      },
    }),
    final_message: 'exollama: cloud-init finished after $UPTIME seconds',
  }

  const cloudConfig = `#cloud-config\n${toYaml11(config)}`
  const userData = encodeUserData(cloudConfig)
  if (userData.length > USER_DATA_LIMIT) {
    throw new UserDataTooLargeError(userData.length, USER_DATA_LIMIT)
  }
  return { cloudConfig, userData, base64Length: userData.length }
}

/**
 * YAML 1.1 (what cloud-init's PyYAML reads): the library quotes any string 1.1 would coerce
 * ("0644" is an octal number, "yes" a boolean, …); permissions are single-quoted explicitly.
 */
function toYaml11(value: unknown): string {
  const doc = new Document(value, { version: '1.1' })
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === 'permissions' && isScalar(pair.value)) {
        ;(pair.value as Scalar).type = 'QUOTE_SINGLE'
      }
    },
  })
  return doc.toString({ lineWidth: 0, minContentWidth: 0, directives: false })
}

/** gzip, then base64: one padded line, as Exoscale's `user-data` field takes it. */
export function encodeUserData(cloudConfig: string): string {
  return gzipSync(Buffer.from(cloudConfig, 'utf8'), { level: 9 }).toString('base64')
}

/** The inverse of {@link encodeUserData} (also accepts user-data that was not gzipped). */
export function decodeUserData(userData: string): string {
  const bytes = Buffer.from(userData, 'base64')
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b
  return (gzipped ? gunzipSync(bytes) : bytes).toString('utf8')
}
