import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/clock.js'
import { INSTANCE_CERT_NAME } from './constants.js'
import { generateInstanceCredentials } from './credentials.js'
import { validateOllamaKey, validateTlsPair } from './validate.js'

describe('generateInstanceCredentials', () => {
  it('makes a random key and a matching self-signed ECDSA P-256 certificate', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1))
    const c = await generateInstanceCredentials({ clock })
    expect(c.ollamaKey.reveal()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(validateOllamaKey(c.ollamaKey)).toBe(c.ollamaKey.reveal())

    const cert = new X509Certificate(c.certPem)
    expect(cert.subject).toBe(`CN=${INSTANCE_CERT_NAME}`)
    expect(cert.issuer).toBe(`CN=${INSTANCE_CERT_NAME}`)
    expect(cert.subjectAltName).toBe(`DNS:${INSTANCE_CERT_NAME}`)
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(cert.verify(cert.publicKey)).toBe(true)
    expect(cert.ca).toBe(false)
    expect(cert.fingerprint256).toBe(c.fingerprint256)
    expect(new Date(cert.validFrom).getTime()).toBe(Date.UTC(2026, 4, 31))
    expect(new Date(cert.validTo).getTime()).toBe(Date.UTC(2036, 4, 29))

    const key = createPrivateKey(c.keyPem.reveal())
    expect(cert.checkPrivateKey(key)).toBe(true)
    expect(createPublicKey(key).export({ format: 'jwk' })).toEqual(
      cert.publicKey.export({ format: 'jwk' }),
    )
    expect(c.keyPem.reveal()).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/,
    )
    expect(validateTlsPair(c.certPem, c.keyPem).certPem).toBe(c.certPem)
  })

  it('never repeats and never prints its secrets', async () => {
    const [a, b] = await Promise.all([generateInstanceCredentials(), generateInstanceCredentials()])
    expect(a.ollamaKey.reveal()).not.toBe(b.ollamaKey.reveal())
    expect(a.fingerprint256).not.toBe(b.fingerprint256)
    const shown = JSON.stringify(a) + inspect(a) + String(a.keyPem)
    expect(shown).not.toContain(a.ollamaKey.reveal())
    expect(shown).not.toContain(a.keyPem.reveal().split('\n')[1])
    expect(shown).toContain(a.fingerprint256)
  })
})
