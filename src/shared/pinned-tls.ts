import { X509Certificate } from 'node:crypto'
import type { PeerCertificate } from 'node:tls'
import { Agent } from 'undici'
import { ExollamaError } from './errors.js'

/** SHA-256 fingerprint of a PEM certificate, as Node prints it ("AB:CD:…", upper case). */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256
}

export interface PinnedAgentOptions {
  /** The instance's self-signed certificate (PEM). Only this exact certificate is accepted. */
  certPem: string
  /** TCP + TLS connect timeout. */
  connectTimeoutMs?: number
  /** How long an idle keep-alive socket is kept. */
  keepAliveTimeoutMs?: number
  /** Max sockets per origin (streams in flight). */
  connections?: number
}

/**
 * An undici Agent that trusts exactly one certificate, by SHA-256 fingerprint. The instance's IP
 * is not in the certificate, so the hostname check is replaced by the pin; chain validation
 * stays on (`ca` makes the self-signed certificate its own root). Header and body timeouts are
 * off: LLM generations legitimately take longer than undici's 300 s defaults, so callers set
 * their own deadlines.
 */
export function createPinnedAgent(options: PinnedAgentOptions): Agent {
  const pin = certificateFingerprint(options.certPem)
  return new Agent({
    connect: {
      ca: options.certPem,
      timeout: options.connectTimeoutMs ?? 10_000,
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        cert.fingerprint256 === pin
          ? undefined
          : new ExollamaError(
              'tls_pin_mismatch',
              `the instance presented a certificate (${cert.fingerprint256}) other than the pinned one (${pin})`,
              { kind: 'cloud' },
            ),
    },
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    ...(options.connections === undefined ? {} : { connections: options.connections }),
  })
}
