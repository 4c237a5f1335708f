import path from 'node:path'
import { z } from 'zod'
import { Secret } from '../shared/index.js'
import { parseByteSize } from './byte-size.js'
import { canonicalCidrList } from './cidr.js'
import { canonicalInstanceType, INSTANCE_FAMILIES, ZONES, type Zone } from './exoscale-names.js'
import { formatListenAddress, parseListenAddress, type ListenAddress } from './listen-address.js'
import {
  endpointUrl,
  hostPattern,
  imageTag,
  keepAlive,
  modelName,
  originPattern,
  parseList,
  version,
} from './text-formats.js'

/** Where a setting's value came from, lowest precedence first. */
export type SettingSource = 'default' | 'exo-cli' | 'file' | 'env' | 'flag'

/** The shape of a value, for forms and `config list`. */
export type SettingKind =
  | 'secret'
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'enum'
  | 'list'
  | 'address'
  | 'path'
  | 'url'

/** When a change takes effect. */
export type SettingEffect =
  /** At once (the gateway and provisioner read it on use). */
  | 'immediate'
  /** For the next instance created or started; a running instance keeps what it got. */
  | 'next-instance'
  /** After the gateway restarts. */
  | 'restart'

/** The definition of one setting. `T` is the type of its value (`| undefined` when optional). */
export interface SettingDefinition<T> {
  /** The environment variable name, also the key in the config file and the API. */
  readonly name: string
  readonly kind: SettingKind
  /** One sentence for `config list` and the settings panel. */
  readonly description: string
  /** The accepted values in words, used in error messages: "an integer number of seconds …". */
  readonly expected: string
  /** Secrets never leave the process except to the place that uses them. */
  readonly secret: boolean
  readonly effect: SettingEffect
  /** True when the gateway must restart for a change to apply. */
  readonly restart: boolean
  /** The value when nothing sets it (undefined: none). */
  readonly default: T
  /** The default as text for people (null: none). */
  readonly defaultText: string | null
  readonly choices?: readonly string[]
  readonly unit?: string
  /** Parses the text form (environment, config file, command line) to the value. */
  readonly schema: z.ZodType<Exclude<T, undefined>, string>
  /** The canonical text form of a value (what the config file stores). */
  format(value: Exclude<T, undefined>): string
}

type Base = Pick<SettingDefinition<unknown>, 'name' | 'description' | 'expected'> &
  Partial<Pick<SettingDefinition<unknown>, 'effect' | 'choices' | 'unit'>>

function define<T>(
  def: Base & {
    kind: SettingKind
    default: T
    defaultText?: string | null
    secret?: boolean
    schema: z.ZodType<Exclude<T, undefined>, string>
    format: (value: Exclude<T, undefined>) => string
  },
): SettingDefinition<T> {
  const effect = def.effect ?? 'immediate'
  return Object.freeze({
    ...def,
    secret: def.secret ?? false,
    effect,
    restart: effect === 'restart',
    defaultText:
      def.defaultText !== undefined
        ? def.defaultText
        : def.default === undefined
          ? null
          : def.format(def.default as Exclude<T, undefined>),
  })
}

/** A schema from a plain parser that returns undefined on bad input. */
function parsedBy<T>(parse: (text: string) => T | undefined): z.ZodType<T, string> {
  return z.string().transform((text, ctx) => {
    const value = parse(text)
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'invalid' })
      return z.NEVER
    }
    return value
  })
}

function integer(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^\+?\d{1,15}$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
}

function seconds(
  def: Base & { default: number; min: number; max: number },
): SettingDefinition<number> {
  return define<number>({
    ...def,
    kind: 'integer',
    unit: 'seconds',
    expected: def.expected,
    schema: integer(def.min, def.max),
    format: String,
  })
}

const secretText = z
  .string()
  .regex(/^[\x21-\x7e]{1,512}$/)
  .transform((text) => new Secret(text))

const revealSecret = (value: Secret): string => value.reveal()
const joinList = (value: readonly string[]): string => value.join(',')

const TRUE_WORDS = ['true', '1', 'yes', 'on'] as const
const FALSE_WORDS = ['false', '0', 'no', 'off'] as const

const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum([...TRUE_WORDS, ...FALSE_WORDS]))
  .transform((word) => (TRUE_WORDS as readonly string[]).includes(word))

function oneOf<const C extends readonly [string, ...string[]]>(choices: C) {
  return z.string().trim().toLowerCase().pipe(z.enum(choices))
}

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/

/**
 * The closed list of settings, keyed by environment variable name (DESIGN §2 fixes the first
 * eighteen names and defaults). Every consumer reads settings through this list.
 */
export const SETTINGS = {
  EXOSCALE_API_KEY: define<Secret | undefined>({
    name: 'EXOSCALE_API_KEY',
    kind: 'secret',
    secret: true,
    description: 'Exoscale API key (the exo CLI name); with the secret, enables the real cloud.',
    expected: 'an Exoscale API key (printable characters, no spaces)',
    default: undefined,
    schema: secretText,
    format: revealSecret,
  }),
  EXOSCALE_API_SECRET: define<Secret | undefined>({
    name: 'EXOSCALE_API_SECRET',
    kind: 'secret',
    secret: true,
    description: 'Exoscale API secret that goes with EXOSCALE_API_KEY.',
    expected: 'an Exoscale API secret (printable characters, no spaces)',
    default: undefined,
    schema: secretText,
    format: revealSecret,
  }),
  EXOSCALE_API_ENDPOINT: define<string>({
    name: 'EXOSCALE_API_ENDPOINT',
    kind: 'url',
    description: 'Base URL of the Exoscale API; every API call goes there. {zone} is replaced.',
    expected: 'an http(s) URL such as https://api-{zone}.exoscale.com/v2',
    default: 'https://api-{zone}.exoscale.com/v2',
    schema: parsedBy(endpointUrl),
    format: String,
  }),
  EXOSCALE_ZONE: define<Zone>({
    name: 'EXOSCALE_ZONE',
    kind: 'enum',
    choices: ZONES,
    effect: 'next-instance',
    description: 'Zone the instance runs in.',
    expected: `a zone such as ch-gva-2 (one of ${ZONES.join(', ')})`,
    default: 'ch-gva-2',
    schema: oneOf(ZONES),
    format: String,
  }),
  EXOSCALE_INSTANCE_TYPE: define<string>({
    name: 'EXOSCALE_INSTANCE_TYPE',
    kind: 'string',
    effect: 'next-instance',
    description: 'Instance type as family.size, GPU families included; a bare size means standard.',
    expected: `family.size such as standard.medium or gpua5000.small (family one of ${INSTANCE_FAMILIES.join(', ')})`,
    default: 'standard.medium',
    schema: parsedBy(canonicalInstanceType),
    format: String,
  }),
  EXOSCALE_TEMPLATE: define<string>({
    name: 'EXOSCALE_TEMPLATE',
    kind: 'string',
    effect: 'next-instance',
    description: 'Template name, resolved in the zone; the newest template of that name wins.',
    expected: 'a template name such as Linux Ubuntu 22.04 LTS 64-bit',
    default: 'Linux Ubuntu 22.04 LTS 64-bit',
    schema: z
      .string()
      .trim()
      .regex(/^[^\p{Cc}]{1,255}$/u),
    format: String,
  }),
  EXOSCALE_DISK_SIZE: define<number>({
    name: 'EXOSCALE_DISK_SIZE',
    kind: 'integer',
    unit: 'GiB',
    effect: 'next-instance',
    description: 'Disk size in GiB (models live there).',
    expected: 'an integer number of GiB between 10 and 51200',
    default: 50,
    schema: integer(10, 51200),
    format: String,
  }),
  EXOSCALE_OLLAMA_KEY: define<Secret | undefined>({
    name: 'EXOSCALE_OLLAMA_KEY',
    kind: 'secret',
    secret: true,
    effect: 'next-instance',
    description: 'The key nginx on the instance checks; random per instance when unset.',
    expected: 'a key of 16 to 256 characters (letters, digits and . _ ~ + / = -)',
    default: undefined,
    defaultText: 'random per instance',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._~+/=-]{16,256}$/)
      .transform((text) => new Secret(text)),
    format: revealSecret,
  }),
  EXOSCALE_IDLE_TIMEOUT: seconds({
    name: 'EXOSCALE_IDLE_TIMEOUT',
    description:
      'Seconds without activity (counted from the last byte sent) before the idle action.',
    expected: 'an integer number of seconds between 5 and 2592000',
    default: 1800,
    min: 5,
    max: 2_592_000,
  }),
  EXOLLAMA_IDLE_ACTION: define<'destroy' | 'stop'>({
    name: 'EXOLLAMA_IDLE_ACTION',
    kind: 'enum',
    choices: ['destroy', 'stop'],
    description:
      'What idleness does: destroy deletes the instance, stop powers it off and keeps the disk.',
    expected: 'one of destroy, stop',
    default: 'destroy',
    schema: oneOf(['destroy', 'stop']),
    format: String,
  }),
  EXOLLAMA_DESTROY_AFTER: seconds({
    name: 'EXOLLAMA_DESTROY_AFTER',
    description: 'In stop mode, seconds a stopped instance is kept before it is destroyed.',
    expected: 'an integer number of seconds between 60 and 31536000',
    default: 86_400,
    min: 60,
    max: 31_536_000,
  }),
  EXOLLAMA_MODEL: define<readonly string[]>({
    name: 'EXOLLAMA_MODEL',
    kind: 'list',
    effect: 'next-instance',
    description: 'Models to pull and load after boot, comma-separated.',
    expected: 'a comma-separated list of model names such as qwen2.5:0.5b,llama3.2',
    default: [],
    defaultText: null,
    schema: parsedBy((text) => parseList(text, modelName)),
    format: joinList,
  }),
  EXOLLAMA_WAKE_TIMEOUT: seconds({
    name: 'EXOLLAMA_WAKE_TIMEOUT',
    description: 'Seconds a held request (and `start`) waits for the instance to be ready.',
    expected: 'an integer number of seconds between 10 and 86400',
    default: 900,
    min: 10,
    max: 86_400,
  }),
  EXOLLAMA_MAX_LIFETIME: seconds({
    name: 'EXOLLAMA_MAX_LIFETIME',
    effect: 'next-instance',
    description: "Hard cap on one instance's life, enforced on the instance too.",
    expected: 'an integer number of seconds between 60 and 31536000',
    default: 86_400,
    min: 60,
    max: 31_536_000,
  }),
  EXOLLAMA_ALLOWED_CIDRS: define<readonly string[]>({
    name: 'EXOLLAMA_ALLOWED_CIDRS',
    kind: 'list',
    effect: 'next-instance',
    description: "Networks allowed to reach the instance's TLS port 11435 (security group rules).",
    expected: 'a CIDR list such as 0.0.0.0/0,203.0.113.0/24',
    default: ['0.0.0.0/0'],
    schema: parsedBy(canonicalCidrList),
    format: joinList,
  }),
  EXOLLAMA_NAME: define<string>({
    name: 'EXOLLAMA_NAME',
    kind: 'string',
    effect: 'next-instance',
    description:
      'Name of the instance and stem of its security group (exollama-NAME); label value.',
    expected:
      'a name of 1 to 32 lowercase letters, digits and hyphens that starts and ends with a letter or digit, such as exollama',
    default: 'exollama',
    schema: z.string().trim().regex(NAME_PATTERN),
    format: String,
  }),
  EXOLLAMA_LISTEN: define<ListenAddress>({
    name: 'EXOLLAMA_LISTEN',
    kind: 'address',
    effect: 'restart',
    description: 'Address the gateway listens on (a drop-in for a local Ollama by default).',
    expected: 'HOST:PORT such as 127.0.0.1:11434 or [::1]:11434',
    default: Object.freeze({ host: '127.0.0.1', port: 11434 }),
    schema: parsedBy(parseListenAddress),
    format: formatListenAddress,
  }),
  EXOLLAMA_DATA_DIR: define<string>({
    name: 'EXOLLAMA_DATA_DIR',
    kind: 'path',
    effect: 'restart',
    description:
      'Directory for the store, secrets and config file (0700); cannot be set in the config file.',
    expected: 'a directory path',
    // Placeholder: the loader computes the platform default ($XDG_DATA_HOME or ~/.local/share).
    default: '',
    defaultText: '$XDG_DATA_HOME/exollama or ~/.local/share/exollama',
    schema: z
      .string()
      .trim()
      .regex(/^[^\0]{1,4096}$/)
      .transform((text) => path.resolve(text)),
    format: String,
  }),
  EXOLLAMA_OLLAMA_IMAGE_TAG: define<string>({
    name: 'EXOLLAMA_OLLAMA_IMAGE_TAG',
    kind: 'string',
    effect: 'next-instance',
    description:
      'Tag of the ollama/ollama image the instance runs (pinned, never "latest" by default).',
    expected: 'a Docker image tag such as 0.32.15',
    default: '0.32.15',
    schema: parsedBy(imageTag),
    format: String,
  }),
  EXOLLAMA_KEEP_ALIVE: define<string>({
    name: 'EXOLLAMA_KEEP_ALIVE',
    kind: 'string',
    effect: 'next-instance',
    description:
      'How long Ollama keeps a model in memory after a request (OLLAMA_KEEP_ALIVE); -1 keeps it loaded.',
    expected: 'a duration such as 5m, 1h or -1 (keep loaded)',
    default: '-1',
    schema: parsedBy(keepAlive),
    format: String,
  }),
  EXOLLAMA_MIN_OLLAMA_VERSION: define<string>({
    name: 'EXOLLAMA_MIN_OLLAMA_VERSION',
    kind: 'string',
    description: 'Oldest Ollama version traffic is routed to (older versions have known CVEs).',
    expected: 'a version such as 0.17.1',
    default: '0.17.1',
    schema: parsedBy(version),
    format: String,
  }),
  EXOLLAMA_WATCHDOG_GRACE: seconds({
    name: 'EXOLLAMA_WATCHDOG_GRACE',
    effect: 'next-instance',
    description:
      'Seconds the on-instance watchdog waits beyond the idle timeout before it powers the instance off.',
    expected: 'an integer number of seconds between 60 and 86400',
    default: 600,
    min: 60,
    max: 86_400,
  }),
  EXOLLAMA_MAX_HELD_REQUESTS: define<number>({
    name: 'EXOLLAMA_MAX_HELD_REQUESTS',
    kind: 'integer',
    description: 'Most requests held while the instance wakes; more get 503 with Retry-After.',
    expected: 'an integer between 1 and 100000',
    default: 1000,
    schema: integer(1, 100_000),
    format: String,
  }),
  EXOLLAMA_MAX_BODY_BYTES: define<number>({
    name: 'EXOLLAMA_MAX_BODY_BYTES',
    kind: 'integer',
    unit: 'bytes',
    description: 'Largest request body accepted (images travel as base64); larger bodies get 413.',
    expected: 'a size in bytes between 1024 and 1073741824, such as 33554432 or 32MiB',
    default: 32 * 1024 * 1024,
    schema: parsedBy((text) => {
      const n = parseByteSize(text)
      return n !== undefined && n >= 1024 && n <= 1024 ** 3 ? n : undefined
    }),
    format: String,
  }),
  EXOLLAMA_ALLOW_MODEL_ADMIN: define<boolean>({
    name: 'EXOLLAMA_ALLOW_MODEL_ADMIN',
    kind: 'boolean',
    description:
      'Allow /api/pull, /api/delete, /api/create, /api/copy, /api/push and /api/blobs for every key (admin keys always may).',
    expected: 'true or false',
    default: false,
    schema: booleanText,
    format: String,
  }),
  EXOLLAMA_ALLOWED_HOSTS: define<readonly string[]>({
    name: 'EXOLLAMA_ALLOWED_HOSTS',
    kind: 'list',
    description:
      'Extra Host header values the gateway accepts besides loopback names (DNS-rebinding guard).',
    expected:
      'a comma-separated list of host names or IP addresses such as myhost.local,192.168.1.10',
    default: [],
    defaultText: null,
    schema: parsedBy((text) => parseList(text, hostPattern)),
    format: joinList,
  }),
  EXOLLAMA_ALLOWED_ORIGINS: define<readonly string[]>({
    name: 'EXOLLAMA_ALLOWED_ORIGINS',
    kind: 'list',
    description: 'Browser origins allowed by CORS besides the local ones (like OLLAMA_ORIGINS).',
    expected:
      'a comma-separated list of origins such as http://localhost:3000,https://app.example.com',
    default: [],
    defaultText: null,
    schema: parsedBy((text) => parseList(text, originPattern)),
    format: joinList,
  }),
  EXOLLAMA_RATE_LIMIT: define<number>({
    name: 'EXOLLAMA_RATE_LIMIT',
    kind: 'integer',
    unit: 'requests per minute',
    description: 'Requests per minute per client key; 0 turns rate limiting off.',
    expected:
      'an integer number of requests per minute per client key between 0 and 1000000 (0 = off)',
    default: 0,
    schema: integer(0, 1_000_000),
    format: String,
  }),
  EXOLLAMA_CONCURRENCY_LIMIT: define<number>({
    name: 'EXOLLAMA_CONCURRENCY_LIMIT',
    kind: 'integer',
    description: 'Most requests in flight to the instance at once; 0 means no limit.',
    expected: 'an integer number of concurrent requests between 0 and 100000 (0 = no limit)',
    default: 0,
    schema: integer(0, 100_000),
    format: String,
  }),
  EXOLLAMA_LOG_LEVEL: define<'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'>({
    name: 'EXOLLAMA_LOG_LEVEL',
    kind: 'enum',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
    effect: 'restart',
    description: 'How much the gateway logs.',
    expected: 'one of trace, debug, info, warn, error, silent',
    default: 'info',
    schema: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'silent']),
    format: String,
  }),
  EXOLLAMA_SHUTDOWN_GRACE: seconds({
    name: 'EXOLLAMA_SHUTDOWN_GRACE',
    description: 'Seconds in-flight streams may finish after SIGTERM before they are cut.',
    expected: 'an integer number of seconds between 0 and 3600',
    default: 10,
    min: 0,
    max: 3600,
  }),
  EXOLLAMA_PRICE_PER_HOUR: define<number | undefined>({
    name: 'EXOLLAMA_PRICE_PER_HOUR',
    kind: 'number',
    unit: 'per hour',
    description:
      'Price of one running hour of the instance type, overriding the built-in price list (negotiated rates).',
    expected: 'a price per hour such as 0.04666 (0 or more)',
    default: undefined,
    defaultText: 'from the built-in price list',
    schema: z
      .string()
      .trim()
      .regex(/^\d{1,9}(\.\d{1,9})?$/)
      .transform(Number)
      .pipe(z.number().min(0)),
    format: String,
  }),
  EXOLLAMA_CURRENCY: define<'CHF' | 'EUR' | 'USD'>({
    name: 'EXOLLAMA_CURRENCY',
    kind: 'enum',
    choices: ['CHF', 'EUR', 'USD'],
    description: 'Currency costs are shown in (Exoscale list prices are the same number in each).',
    expected: 'one of CHF, EUR, USD',
    default: 'CHF',
    schema: z
      .string()
      .trim()
      .toUpperCase()
      .pipe(z.enum(['CHF', 'EUR', 'USD'])),
    format: String,
  }),
}

/** The name of a setting: its environment variable. */
export type SettingName = keyof typeof SETTINGS

/** The type of the value of setting `N`. */
export type SettingValue<N extends SettingName> =
  (typeof SETTINGS)[N] extends SettingDefinition<infer T> ? T : never

/** Every setting's value. */
export type SettingValues = { readonly [N in SettingName]: SettingValue<N> }

/** Every setting name, in the order of the list. */
export const SETTING_NAMES = Object.freeze(Object.keys(SETTINGS) as SettingName[])

export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name)
}

/** The definition of `name`, loosely typed for code that walks every setting. */
export function settingDefinition(name: SettingName): SettingDefinition<unknown> {
  // Each entry is a SettingDefinition<T> for its own T; walking them needs the common shape.
  return SETTINGS[name] as unknown as SettingDefinition<unknown>
}
