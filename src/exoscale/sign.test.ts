import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Secret } from '../shared/index.js'
import { expiresAt, MAX_EXPIRES_IN_SECONDS, signRequest } from './sign.js'

const repoRoot = path.resolve(import.meta.dirname, '../..')
const vectorsFile = path.resolve(repoRoot, '../shared/exoscale/signing-vectors.json')

interface Vector {
  source: string
  apiKey: string
  apiSecret: string
  expires: number
  method: string
  path: string
  query: Record<string, string>
  body: string
  authorization: string
}

const vectors = (JSON.parse(readFileSync(vectorsFile, 'utf8')) as { vectors: Vector[] }).vectors

describe('signRequest', () => {
  it('has all 11 published vectors to check against', () => {
    expect(vectors).toHaveLength(11)
  })

  // Set C (exoscale-sdk-ts) signs paths without /v2: each vector is signed with exactly the
  // path it gives, which is what the client does with the path it sends.
  it.each(vectors.map((v, i) => [`${i + 1} ${v.method} ${v.path}`, v] as const))(
    'reproduces vector %s',
    (_name, v) => {
      const header = signRequest({
        method: v.method,
        path: v.path,
        query: v.query,
        body: v.body,
        apiKey: v.apiKey,
        apiSecret: new Secret(v.apiSecret),
        expires: v.expires,
      })
      expect(header).toBe(v.authorization)
    },
  )

  const base = {
    method: 'GET',
    path: '/v2/instance',
    apiKey: 'EXOkey',
    apiSecret: new Secret('s3cret'),
    expires: 1_700_000_000,
  }

  it('signs the decoded value, so "a b" and "a%20b" differ', () => {
    const decoded = signRequest({ ...base, query: { labels: 'a b' } })
    const encoded = signRequest({ ...base, query: { labels: 'a%20b' } })
    expect(decoded).not.toBe(encoded)
    expect(decoded).toContain('signed-query-args=labels,')
  })

  it('leaves multi-valued query names out of the signature, like Go', () => {
    const without = signRequest({ ...base, query: { a: '1' } })
    const withMulti = signRequest({ ...base, query: { a: '1', b: ['x', 'y'] } })
    expect(withMulti).toBe(without)
    // A one-element array is a single value and is signed.
    expect(signRequest({ ...base, query: { a: ['1'] } })).toBe(without)
  })

  it('orders signed names byte-wise, independent of insertion order', () => {
    const one = signRequest({ ...base, query: { b: '2', B: '3', a: '1' } })
    const two = signRequest({ ...base, query: { a: '1', B: '3', b: '2' } })
    expect(one).toBe(two)
    expect(one).toContain('signed-query-args=B;a;b,')
  })

  it('changes with every input that is signed', () => {
    const ref = signRequest(base)
    expect(signRequest({ ...base, method: 'DELETE' })).not.toBe(ref)
    expect(signRequest({ ...base, path: '/v2/instance/x' })).not.toBe(ref)
    expect(signRequest({ ...base, body: '{}' })).not.toBe(ref)
    expect(signRequest({ ...base, expires: base.expires + 1 })).not.toBe(ref)
    expect(signRequest({ ...base, apiSecret: new Secret('other') })).not.toBe(ref)
  })

  it('never puts the secret in the header', () => {
    expect(signRequest(base)).not.toContain('s3cret')
  })
})

describe('expiresAt', () => {
  it('is now + 600 s by default, in whole seconds', () => {
    expect(expiresAt(1_700_000_000_999)).toBe(1_700_000_600)
  })

  it('never signs more than one hour ahead', () => {
    expect(expiresAt(0, 86_400)).toBe(MAX_EXPIRES_IN_SECONDS)
    expect(expiresAt(0, 0)).toBe(1)
  })
})
