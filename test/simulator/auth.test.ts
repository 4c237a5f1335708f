import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { call } from './helpers/api.js'
import { startHarness, type SimHarness } from './helpers/setup.js'
import { signAuthorization } from './helpers/signer.js'

let h: SimHarness
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  await h.sim.close()
})

const INVALID = { message: 'Invalid request signature' }

describe('request signatures over HTTP', () => {
  it('generates credentials whose key starts with EXO and accepts them', async () => {
    expect(h.sim.credentials.key).toMatch(/^EXO[0-9a-f]{24}$/)
    const res = await h.call('GET', '/instance')
    expect(res.status).toBe(200)
    expect(h.sim.requests.at(-1)).toMatchObject({ signed: true, status: 200, path: '/instance' })
  })

  it('rejects a request without Authorization with 403 JSON', async () => {
    const res = await h.call('GET', '/instance', { auth: false })
    expect(res.status).toBe(403)
    expect(res.headers['content-type']).toBe('application/json')
    expect(res.json).toEqual(INVALID)
    expect(h.sim.requests.at(-1)).toMatchObject({ signed: false, status: 403 })
  })

  it('rejects a malformed header', async () => {
    for (const auth of [
      'EXO2-HMAC-SHA256',
      'Basic dXNlcjpwdw==',
      'EXO2-HMAC-SHA256 credential=x',
    ]) {
      const res = await h.call('GET', '/instance', { auth })
      expect(res.status, auth).toBe(403)
      expect(res.json).toEqual(INVALID)
    }
  })

  it('rejects a wrong signature (wrong secret)', async () => {
    const res = await h.call('GET', '/instance', {
      credentials: { key: h.sim.credentials.key, secret: 'not-the-secret' },
    })
    expect(res.status).toBe(403)
    expect(res.json).toEqual(INVALID)
  })

  it('rejects an unknown key', async () => {
    const res = await h.call('GET', '/instance', {
      credentials: { key: 'EXOunknownunknownunknown0', secret: h.sim.credentials.secret },
    })
    expect(res.status).toBe(403)
    expect(res.json).toEqual(INVALID)
  })

  it('rejects an expired signature with a message that says so', async () => {
    const res = await h.call('GET', '/instance', { expiresIn: -1 })
    expect(res.status).toBe(403)
    expect(res.json.message).toMatch(/^Invalid request signature/)
    expect(res.json.message).toMatch(/expired/)
  })

  it('rejects a signature that expires more than an hour ahead', async () => {
    expect((await h.call('GET', '/instance', { expiresIn: 3600 })).status).toBe(200)
    const res = await h.call('GET', '/instance', { expiresIn: 3601 })
    expect(res.status).toBe(403)
    expect(res.json).toEqual(INVALID)
  })

  it('judges expiry by the injected clock', async () => {
    const auth = signAuthorization({
      method: 'GET',
      path: '/v2/instance',
      key: h.sim.credentials.key,
      secret: h.sim.credentials.secret,
      expires: Math.floor(h.clock.now() / 1000) + 600,
    })
    expect((await h.call('GET', '/instance', { auth })).status).toBe(200)
    await h.clock.advance(601_000)
    expect((await h.call('GET', '/instance', { auth })).status).toBe(403)
  })

  it('rejects a body that differs from the signed one', async () => {
    const body = JSON.stringify({ name: 'exollama-sg' })
    const auth = signAuthorization({
      method: 'POST',
      path: '/v2/security-group',
      body: JSON.stringify({ name: 'other' }),
      key: h.sim.credentials.key,
      secret: h.sim.credentials.secret,
      expires: Math.floor(h.clock.now() / 1000) + 600,
    })
    const res = await h.call('POST', '/security-group', { body, auth })
    expect(res.status).toBe(403)
    expect(h.sim.state.securityGroups()).toEqual([])
  })

  it('requires every single-valued query arg to be signed', async () => {
    const auth = signAuthorization({
      method: 'GET',
      path: '/v2/template',
      key: h.sim.credentials.key,
      secret: h.sim.credentials.secret,
      expires: Math.floor(h.clock.now() / 1000) + 600,
    })
    const res = await h.call('GET', '/template', { auth, rawQuerySuffix: 'visibility=public' })
    expect(res.status).toBe(403)
    expect((await h.call('GET', '/template', { query: { visibility: 'public' } })).status).toBe(200)
  })

  it('signs the decoded query value (labels with a space)', async () => {
    const res = await h.call('GET', '/instance', {
      query: { labels: 'managed-by=exollama exollama-name=x' },
    })
    expect(res.status).toBe(200)
    expect(h.sim.requests.at(-1)?.query).toEqual({ labels: 'managed-by=exollama exollama-name=x' })
  })

  it('signs the full raw path, including the zone prefix', async () => {
    const target = h.zone('at-vie-2')
    expect((await call(target, 'GET', '/instance')).status).toBe(200)
    expect(h.sim.requests.at(-1)).toMatchObject({
      rawPath: '/at-vie-2/v2/instance',
      path: '/instance',
      zone: 'at-vie-2',
      signed: true,
    })
    // Signed as if sent to /v2/instance, but sent to /at-vie-2/v2/instance.
    const auth = signAuthorization({
      method: 'GET',
      path: '/v2/instance',
      key: h.sim.credentials.key,
      secret: h.sim.credentials.secret,
      expires: Math.floor(h.clock.now() / 1000) + 600,
    })
    expect((await call(target, 'GET', '/instance', { auth })).status).toBe(403)
  })

  it('lets GET /zone through unsigned, and signed too', async () => {
    const unsigned = await h.call('GET', '/zone', { auth: false })
    expect(unsigned.status).toBe(200)
    expect(h.sim.requests.at(-1)).toMatchObject({ signed: false, status: 200 })
    expect((await h.call('GET', '/zone')).status).toBe(200)
    expect((await h.call('GET', '/zone', { auth: 'EXO2-HMAC-SHA256 credential=x' })).status).toBe(
      403,
    )
  })

  it('accepts any of several configured keys', async () => {
    await h.sim.close()
    h = await startHarness({
      credentials: [
        { key: 'EXOaaaaaaaaaaaaaaaaaaaaaaaa', secret: 'one' },
        { key: 'EXObbbbbbbbbbbbbbbbbbbbbbbb', secret: 'two' },
      ],
    })
    expect(h.sim.credentials.key).toBe('EXOaaaaaaaaaaaaaaaaaaaaaaaa')
    const res = await h.call('GET', '/instance', {
      credentials: { key: 'EXObbbbbbbbbbbbbbbbbbbbbbbb', secret: 'two' },
    })
    expect(res.status).toBe(200)
  })
})
