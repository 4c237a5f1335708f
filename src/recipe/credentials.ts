import { X509Certificate as NodeX509Certificate, randomBytes, webcrypto } from 'node:crypto'
import 'reflect-metadata' // @peculiar/x509 resolves its algorithms through tsyringe, which needs it
import * as x509 from '@peculiar/x509'
import { systemClock, type Clock } from '../shared/clock.js'
import { Secret } from '../shared/secret.js'
import { INSTANCE_CERT_NAME } from './constants.js'

/** Everything secret an instance needs, generated on the gateway's side for each instance. */
export interface InstanceCredentials {
  /** The key nginx checks (43 characters of base64url, 256 random bits). */
  ollamaKey: Secret
  /** Self-signed ECDSA P-256 certificate, CN and DNS SAN {@link INSTANCE_CERT_NAME}. */
  certPem: string
  /** PKCS#8 PEM private key of the certificate. */
  keyPem: Secret
  /** SHA-256 fingerprint ("AB:CD:…") the gateway pins (see createPinnedAgent). */
  fingerprint256: string
}

export interface GenerateCredentialsOptions {
  /** Sets the validity window (starts a day early to survive clock skew). */
  clock?: Clock
  /** Default 3650 days: the pin, not the expiry, is what protects the channel. */
  validityDays?: number
}

const DAY_MS = 24 * 60 * 60 * 1000
type SelfSignedParams = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>
// Node's webcrypto implements the standard WebCrypto interface @peculiar/x509 is typed against
// (the DOM `Crypto` type, absent from this Node-only lib setting), hence the casts.
const x509Crypto = webcrypto as unknown as NonNullable<SelfSignedParams[1]>

/** Generates a random instance key and a fresh self-signed TLS key pair for nginx. */
export async function generateInstanceCredentials(
  options: GenerateCredentialsOptions = {},
): Promise<InstanceCredentials> {
  const now = (options.clock ?? systemClock).now()
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  const serial = randomBytes(16)
  serial[0] = (serial[0] ?? 0) & 0x7f // a positive INTEGER
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: `CN=${INSTANCE_CERT_NAME}`,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + (options.validityDays ?? 3650) * DAY_MS),
      signingAlgorithm: alg,
      keys: keys as unknown as SelfSignedParams[0]['keys'],
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: INSTANCE_CERT_NAME }]),
      ],
    },
    x509Crypto,
  )
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)
  const certPem = cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n'
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY').replace(/\r\n/g, '\n').trimEnd()
  return {
    ollamaKey: new Secret(randomBytes(32).toString('base64url')),
    certPem,
    keyPem: new Secret(keyPem + '\n'),
    fingerprint256: new NodeX509Certificate(certPem).fingerprint256,
  }
}
