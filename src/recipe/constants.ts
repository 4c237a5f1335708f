/** Fixed facts of the instance recipe: ports, VM file paths, defaults and limits. */

/** nginx (TLS + key check) listens here on every interface of the VM. */
export const INSTANCE_PORT = 11435
/** Ollama is published on 127.0.0.1 only, on its usual port. */
export const OLLAMA_PORT = 11434
/** The boot-progress endpoint nginx serves (key required). */
export const BOOT_STATUS_PATH = '/exollama/boot'

/** Where the recipe puts things on the VM. */
export const VM_PATHS = {
  /** Validated settings the scripts and units read (no secrets). */
  recipeEnv: '/etc/exollama/recipe.env',
  tlsCert: '/etc/exollama/tls/instance.crt',
  tlsKey: '/etc/exollama/tls/instance.key',
  /** Holds the instance key, hence 0600 (the nginx master reads it as root). */
  nginxConf: '/etc/nginx/conf.d/exollama.conf',
  bootScript: '/usr/local/sbin/exollama-boot',
  watchdogScript: '/usr/local/sbin/exollama-watchdog',
  bootUnit: '/etc/systemd/system/exollama-boot.service',
  watchdogService: '/etc/systemd/system/exollama-watchdog.service',
  watchdogTimer: '/etc/systemd/system/exollama-watchdog.timer',
  dockerDropIn: '/etc/systemd/system/docker.service.d/exollama-metadata-block.conf',
  /** Persistent (GPU types reboot): boot status, step markers, activity log. */
  stateDir: '/var/lib/exollama',
  bootStatus: '/var/lib/exollama/boot.json',
  bootHistory: '/var/lib/exollama/boot-history.log',
  activityLog: '/var/lib/exollama/activity.log',
  rebootMarker: '/var/lib/exollama/reboot-required',
  /** Every request through nginx (rotated with the other nginx logs). */
  accessLog: '/var/log/nginx/exollama-access.log',
  bootLog: '/var/log/exollama-boot.log',
} as const

export const OLLAMA_IMAGE_REPOSITORY = 'ollama/ollama'
/** The newest stable Ollama release the recipe was checked against. */
export const DEFAULT_OLLAMA_IMAGE_TAG = '0.32.15'
export const DEFAULT_KEEP_ALIVE = '30m'
export const DEFAULT_WATCHDOG_GRACE_S = 600
/** Ollama needs driver >= 550; Ubuntu's 580-server branch has prebuilt signed modules. */
export const DEFAULT_NVIDIA_DRIVER = '580-server'
export const DEFAULT_UBUNTU_RELEASE = '22.04'

/** Exoscale's limit on the base64 user-data (the exo CLI refuses anything longer). */
export const USER_DATA_LIMIT = 32768

/** Docker's Ubuntu repository key ("Docker Release (CE deb)"), fetched by cloud-init by id. */
export const DOCKER_APT_KEY_FINGERPRINT = '9DC858229FC7DD38854AE2D88D81803C0EBFCD88'
export const DOCKER_APT_KEYSERVER = 'keyserver.ubuntu.com'

/** Exoscale's metadata server: serves the user-data (keys!) to anything on the VM that asks. */
export const METADATA_SERVER_IP = '169.254.169.254'

/** CN and DNS SAN of the instance certificate; the gateway pins the certificate, not the name. */
export const INSTANCE_CERT_NAME = 'exollama-instance'
