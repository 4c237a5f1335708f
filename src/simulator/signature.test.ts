import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  hmacSignature,
  parseAuthorization,
  signedQueryArgs,
  signingMessage,
  verifySignature,
  type VerifySignatureInput,
} from './signature.js'

interface Vector {
  apiKey: string
  apiSecret: string
  expires: number
  method: string
  path: string
  query: Record<string, string>
  body: string
  authorization: string
}

const repoRoot = path.resolve(import.meta.dirname, '../..')
const vectors = (
  JSON.parse(
    readFileSync(path.resolve(repoRoot, '../shared/exoscale/signing-vectors.json'), 'utf8'),
  ) as { vectors: Vector[] }
).vectors

/** The wire query of a vector: encodeURIComponent, so 'a b' travels as a%20b. */
const wireQuery = (q: Record<string, string>) =>
  Object.entries(q)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&')

function inputFor(v: Vector, overrides: Partial<VerifySignatureInput> = {}): VerifySignatureInput {
  return {
    method: v.method,
    rawPath: v.path,
    rawQuery: wireQuery(v.query),
    body: v.body,
    authorization: v.authorization,
    nowMs: (v.expires - 60) * 1000,
    secretFor: (key) => (key === v.apiKey ? v.apiSecret : undefined),
    ...overrides,
  }
}

describe('signature vectors', () => {
  it('has all 11 published vectors', () => {
    expect(vectors).toHaveLength(11)
  })

  it.each(vectors.map((v, i) => [i, v] as const))('accepts vector %i', (_i, v) => {
    expect(verifySignature(inputFor(v))).toEqual({ ok: true, key: v.apiKey, expires: v.expires })
  })

  it.each(vectors.map((v, i) => [i, v] as const))(
    'recomputes the exact signature of vector %i',
    (_i, v) => {
      const q = signedQueryArgs(wireQuery(v.query))
      const sig = hmacSignature(
        v.apiSecret,
        signingMessage(v.method, v.path, v.body, q.values, v.expires),
      )
      expect(v.authorization.endsWith(`signature=${sig}`)).toBe(true)
    },
  )

  it.each(vectors.map((v, i) => [i, v] as const))(
    'rejects vector %i when the body, path or method changes',
    (_i, v) => {
      expect(verifySignature(inputFor(v, { body: `${v.body} ` }))).toMatchObject({
        ok: false,
        failure: 'mismatch',
      })
      expect(verifySignature(inputFor(v, { rawPath: `${v.path}x` }))).toMatchObject({
        ok: false,
        failure: 'mismatch',
      })
      const other = v.method === 'GET' ? 'DELETE' : 'GET'
      expect(verifySignature(inputFor(v, { method: other }))).toMatchObject({
        ok: false,
        failure: 'mismatch',
      })
    },
  )
})

describe('verifySignature', () => {
  const v = vectors.find((x) => x.method === 'GET' && Object.keys(x.query).length === 2)!

  it('signs decoded query values (a%20b and a+b are both "a b")', () => {
    const spaced = vectors.find((x) => x.query['labels'] === 'a b')!
    expect(verifySignature(inputFor(spaced, { rawQuery: 'labels=a%20b' })).ok).toBe(true)
    expect(verifySignature(inputFor(spaced, { rawQuery: 'labels=a+b' })).ok).toBe(true)
    expect(verifySignature(inputFor(spaced, { rawQuery: 'labels=a%2520b' })).ok).toBe(false)
  })

  it('is independent of the wire order of query args', () => {
    const reversed = Object.entries(v.query)
      .reverse()
      .map(([k, x]) => `${k}=${x}`)
      .join('&')
    expect(verifySignature(inputFor(v, { rawQuery: reversed })).ok).toBe(true)
  })

  it('requires every single-valued query arg to be signed', () => {
    const extra = `${wireQuery(v.query)}&zz=1`
    expect(verifySignature(inputFor(v, { rawQuery: extra }))).toMatchObject({
      ok: false,
      failure: 'query-args',
    })
  })

  it('leaves repeated query args out of the signature (Go semantics)', () => {
    const repeated = `${wireQuery(v.query)}&r=1&r=2`
    expect(verifySignature(inputFor(v, { rawQuery: repeated })).ok).toBe(true)
    expect(signedQueryArgs('b=2&a=1&r=1&r=2&e')).toEqual({
      names: ['a', 'b', 'e'],
      values: ['1', '2', ''],
    })
  })

  it('rejects a missing or malformed header', () => {
    expect(verifySignature(inputFor(v, { authorization: undefined }))).toMatchObject({
      failure: 'missing',
    })
    for (const bad of [
      'Bearer abc',
      v.authorization.replace('EXO2-HMAC-SHA256 ', 'EXO2-HMAC-SHA256  '),
      v.authorization.replace(',expires=', ',expires=x'),
      v.authorization.replace('credential=', 'credentials='),
      `${v.authorization},signature=abc=`,
      v.authorization.replace(/,signature=[^,]+/, ''),
      v.authorization.replace(/signed-query-args=[^,]+/, 'signed-query-args='),
    ]) {
      expect(verifySignature(inputFor(v, { authorization: bad })), bad).toMatchObject({
        ok: false,
        failure: 'malformed',
      })
    }
  })

  it('rejects an unknown key', () => {
    expect(verifySignature(inputFor(v, { secretFor: () => undefined }))).toMatchObject({
      failure: 'unknown-key',
    })
  })

  it('rejects a wrong secret', () => {
    expect(verifySignature(inputFor(v, { secretFor: () => 'other-secret' }))).toMatchObject({
      failure: 'mismatch',
    })
  })

  it('rejects an expired signature and accepts one expiring this very second', () => {
    expect(verifySignature(inputFor(v, { nowMs: (v.expires + 1) * 1000 }))).toMatchObject({
      failure: 'expired',
    })
    expect(verifySignature(inputFor(v, { nowMs: v.expires * 1000 + 999 })).ok).toBe(true)
  })

  it('rejects expires more than an hour ahead', () => {
    expect(verifySignature(inputFor(v, { nowMs: (v.expires - 3601) * 1000 }))).toMatchObject({
      failure: 'too-far-ahead',
    })
    expect(verifySignature(inputFor(v, { nowMs: (v.expires - 3600) * 1000 })).ok).toBe(true)
    expect(
      verifySignature(inputFor(v, { nowMs: (v.expires - 100) * 1000, maxExpiresAheadSeconds: 50 })),
    ).toMatchObject({ failure: 'too-far-ahead' })
  })

  it('parses the header parts', () => {
    expect(parseAuthorization(v.authorization)).toEqual({
      credential: v.apiKey,
      signedQueryArgs: ['k1', 'k2'],
      expires: v.expires,
      signature: v.authorization.split('signature=')[1],
    })
  })
})
