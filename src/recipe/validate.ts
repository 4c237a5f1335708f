import { X509Certificate, createPrivateKey } from 'node:crypto'
import net from 'node:net'
import type { Secret } from '../shared/secret.js'
import { RecipeSettingError } from './errors.js'

/**
 * Validators for every value that reaches a shell, YAML or nginx. They accept a narrow,
 * documented alphabet (never "escape and hope"), return the canonical form, and throw
 * RecipeSettingError naming the setting. Secret values never appear in messages.
 */

/** Shows a rejected, non-secret value safely on one line. */
function show(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
}

/** base64url alphabet: safe unquoted in nginx, YAML, shells and HTTP headers. */
const KEY_RE = /^[A-Za-z0-9_-]{16,256}$/

/** The per-instance key nginx compares. At least 16 characters of [A-Za-z0-9_-], not trivially repetitive. */
export function validateOllamaKey(key: Secret, setting = 'ollamaKey'): string {
  const value = key.reveal()
  if (!KEY_RE.test(value)) {
    throw new RecipeSettingError(
      setting,
      `must be 16 to 256 characters from A-Z a-z 0-9 _ - (got ${value.length} characters${/[^A-Za-z0-9_-]/.test(value) ? ' including other characters' : ''}); generate one with generateInstanceCredentials()`,
    )
  }
  if (new Set(value).size < 6) {
    throw new RecipeSettingError(
      setting,
      'does not look random (fewer than 6 distinct characters); use a random key',
    )
  }
  return value
}

/** Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

export function validateImageTag(tag: string, setting = 'ollamaImageTag'): string {
  if (typeof tag !== 'string' || !TAG_RE.test(tag)) {
    throw new RecipeSettingError(
      setting,
      `${show(tag)} is not a Docker image tag; use a release such as "0.32.15"`,
    )
  }
  return tag
}

const MODEL_PART = '[A-Za-z0-9][A-Za-z0-9._-]{0,79}'
const MODEL_HOST = '[A-Za-z0-9][A-Za-z0-9._-]{0,252}(?::[0-9]{1,5})?'
const MODEL_TAG = '[A-Za-z0-9_][A-Za-z0-9._-]{0,79}'
/** Ollama's name grammar ([host/][namespace/]model[:tag]), e.g. "hf.co/org/repo:Q4_K_M". */
const MODEL_RE = new RegExp(
  `^(?:(?:${MODEL_HOST}/)?${MODEL_PART}/)?${MODEL_PART}(?::${MODEL_TAG})?$`,
)

export function validateModelName(name: string, setting = 'model'): string {
  if (typeof name !== 'string' || !MODEL_RE.test(name) || name.includes('..')) {
    throw new RecipeSettingError(
      setting,
      `${show(name)} is not an Ollama model name; use names like "qwen2.5:0.5b" or "library/llama3.2:3b"`,
    )
  }
  return name
}

/** Ollama's keep_alive: seconds (may be negative = forever) or a Go duration ("30m", "1h30m", "-1"). */
const KEEP_ALIVE_RE = /^-?(?:[0-9]{1,9}|(?:[0-9]{1,9}(?:\.[0-9]{1,6})?(?:ns|us|ms|s|m|h)){1,6})$/

export function validateKeepAlive(value: string | number, setting = 'keepAlive'): string {
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : value
  if (typeof text !== 'string' || !KEEP_ALIVE_RE.test(text)) {
    throw new RecipeSettingError(
      setting,
      `${show(value)} is not a keep-alive; use seconds (3600), a duration ("30m", "2h") or -1 to keep models loaded`,
    )
  }
  return text
}

/** An Exoscale instance name, also used as the stem of labels and the security group. */
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

export function validateInstanceName(name: string, setting = 'name'): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new RecipeSettingError(
      setting,
      `${show(name)} is not a valid instance name; use 1-63 letters, digits and inner hyphens`,
    )
  }
  return name
}

/** A whole number of seconds in [min, max]. */
export function validateSeconds(value: number, setting: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RecipeSettingError(
      setting,
      `${show(value)} must be a whole number of seconds from ${min} to ${max}`,
    )
  }
  return value
}

/** An IPv4 or IPv6 network in CIDR notation ("203.0.113.0/24", "2001:db8::/32"). */
export function validateCidr(cidr: string, setting = 'allowedCidrs'): string {
  const match = typeof cidr === 'string' ? /^([0-9A-Fa-f.:]+)\/([0-9]{1,3})$/.exec(cidr) : null
  const address = match?.[1] ?? ''
  const bits = Number(match?.[2])
  const ok =
    match !== null && ((net.isIPv4(address) && bits <= 32) || (net.isIPv6(address) && bits <= 128))
  if (!ok) {
    throw new RecipeSettingError(
      setting,
      `${show(cidr)} is not a network in CIDR notation; use e.g. "203.0.113.0/24" or "0.0.0.0/0"`,
    )
  }
  return cidr
}

/** NVIDIA driver branch for Ubuntu's packages: >= 550, optionally -server and/or -open. */
const DRIVER_RE = /^(?:5[5-9][0-9]|[6-9][0-9]{2})(?:-server)?(?:-open)?$/

export function validateNvidiaDriver(branch: string, setting = 'nvidiaDriver'): string {
  if (typeof branch !== 'string' || !DRIVER_RE.test(branch)) {
    throw new RecipeSettingError(
      setting,
      `${show(branch)} is not an NVIDIA driver branch >= 550; use e.g. "580-server" or "580-server-open"`,
    )
  }
  return branch
}

/**
 * The TLS pair: parses both, checks they belong together, and returns canonical PEM (so the
 * text written to the VM is exactly a certificate and a PKCS#8 key, whatever came in).
 */
export function validateTlsPair(
  certPem: string,
  keyPem: Secret,
): { certPem: string; keyPem: string; fingerprint256: string } {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(certPem)
  } catch (cause) {
    throw new RecipeSettingError(
      'tls.certPem',
      'is not a PEM certificate; use generateInstanceCredentials()',
      cause,
    )
  }
  let key: ReturnType<typeof createPrivateKey>
  try {
    key = createPrivateKey(keyPem.reveal())
  } catch (cause) {
    // The parser's message could quote key material: keep only its class.
    throw new RecipeSettingError(
      'tls.keyPem',
      'is not an unencrypted PEM private key; use generateInstanceCredentials()',
      cause instanceof Error ? new Error(cause.name) : undefined,
    )
  }
  if (!cert.checkPrivateKey(key)) {
    throw new RecipeSettingError(
      'tls.keyPem',
      'does not belong to tls.certPem; pass the pair that was generated together',
    )
  }
  return {
    certPem: cert.toString(),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    fingerprint256: cert.fingerprint256,
  }
}
