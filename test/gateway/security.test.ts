import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createGateway } from '../../src/gateway/gateway.js'
import type { Backend } from '../../src/gateway/ports.js'
import { StaticBackend } from '../../src/gateway/static-backend.js'
import { FakeOllama } from '../../src/simulator/fake-ollama.js'
import {
  capturingLogger,
  keyTable,
  rawExchange,
  rawRequest,
  startStack,
  until,
  type Stack,
} from './helpers.js'

const CHAT = JSON.stringify({
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  stream: false,
})

describe('request-target safety', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack()
  })
  afterAll(() => stack.close())
  afterEach(() => stack.fake.reset())

  const TRICKS: Array<[string, string]> = [
    ['GET', '//evil.example/x'],
    ['GET', '//127.0.0.1/api/tags'],
    ['GET', 'http://evil.example/api/tags'],
    ['GET', 'http://127.0.0.1/api/tags'],
    ['GET', '\\\\evil.example\\x'],
    ['GET', '/api\\tags'],
    ['GET', '/api/../api/tags'],
    ['POST', '/api/chat/../pull'],
    ['POST', '/api/./chat'],
    ['POST', '/api/%2e%2e/api/pull'],
    ['POST', '/api/%2E%2E/api/pull'],
    ['POST', '/api/.%2e/pull'],
    ['GET', '/api%2ftags'],
    ['GET', '/api%2Ftags'],
    ['GET', '/api%5ctags'],
    ['GET', '/api/tags%00'],
    ['GET', '/api/t%zzags'],
    ['GET', '/api//tags'],
    ['GET', '/v1/models//x'],
    ['POST', '/v1/chat/completions/'],
    ['GET', '/api/tags/'],
    ['POST', '/api/pull'],
    ['POST', '/api/push'],
    ['POST', '/api/create'],
    ['POST', '/api/copy'],
    ['DELETE', '/api/delete'],
    ['GET', '/api/delete'],
    ['POST', '/api/blobs/sha256:abc'],
    ['HEAD', '/api/blobs/sha256:abc'],
    ['GET', '/api/blobs/sha256:abc/../../x'],
    ['POST', '/api/experimental/web_fetch'],
    ['POST', '/api/experimental/web_search'],
    ['POST', '/api/me'],
    ['POST', '/api/signout'],
    ['GET', '/api/status'],
    ['GET', '/debug/pprof/'],
    ['POST', '/v1/responses'],
    ['POST', '/v1/messages'],
    ['POST', '/v1/audio/transcriptions'],
    ['GET', '/exollama/boot'],
    ['GET', '/.env'],
    ['GET', '*'],
  ]

  it.each(TRICKS)(
    '%s %s gets a 4xx JSON answer and never reaches the upstream',
    async (method, path) => {
      const res = await rawRequest({
        port: stack.port,
        method,
        path,
        headers: { 'content-type': 'application/json' },
      })
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      expect(res.headers.location).toBeUndefined()
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      if (method !== 'HEAD') {
        const body = JSON.parse(res.body) as { error: unknown }
        if (path.startsWith('/v1/'))
          expect(body.error).toMatchObject({
            message: expect.any(String),
            type: expect.any(String),
            code: expect.any(String),
          })
        else expect(typeof body.error).toBe('string')
      }
      expect(stack.fake.requests).toHaveLength(0)
    },
  )

  it('the Host header never chooses the upstream', async () => {
    const res = await rawRequest({
      port: stack.port,
      path: '/api/version',
      headers: { host: `localhost:${stack.port}` },
    })
    expect(res.status).toBe(200)
    const [seen] = stack.fake.requests
    expect(seen?.url).toBe('/api/version')
    // The upstream got the backend's own host, not the client's.
    expect(seen?.headers.host).toBe(`127.0.0.1:${stack.fake.port}`)
  })

  it('passes the original query string to the allowlisted path', async () => {
    const res = await rawRequest({ port: stack.port, path: '/api/tags?x=1&y=%2F' })
    expect(res.status).toBe(200)
    expect(stack.fake.requests[0]?.url).toBe('/api/tags?x=1&y=%2F')
  })

  it('model admin routes answer 403 application/json {"error": …} for any method', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of [
        '/api/pull',
        '/api/delete',
        '/api/create',
        '/api/copy',
        '/api/push',
        '/api/blobs/sha256:0',
      ]) {
        const res = await rawRequest({ port: stack.port, method, path, body: '{}' })
        expect(res.status, `${method} ${path}`).toBe(403)
        expect(res.headers['content-type']).toMatch(/^application\/json/)
        expect(JSON.parse(res.body)).toMatchObject({
          error: expect.any(String),
          code: 'model_admin_forbidden',
        })
      }
    }
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('a wrong method on a known route is 405 and not forwarded', async () => {
    const res = await rawRequest({ port: stack.port, method: 'GET', path: '/api/chat' })
    expect(res.status).toBe(405)
    expect(res.headers.allow).toBe('POST')
    const openai = await rawRequest({
      port: stack.port,
      method: 'DELETE',
      path: '/v1/chat/completions',
    })
    expect(JSON.parse(openai.body)).toMatchObject({
      error: { type: 'invalid_request_error', code: 'method_not_allowed' },
    })
    expect(stack.fake.requests).toHaveLength(0)
  })
})

describe('model admin when enabled', () => {
  it('is forwarded with allowModelAdmin, streaming pull progress', async () => {
    const stack = await startStack({ options: { allowModelAdmin: true } })
    try {
      const res = await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/pull',
        body: '{"model":"phi3:mini"}',
      })
      expect(res.status).toBe(200)
      const lines = res.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { status: string })
      expect(lines.at(-1)).toEqual({ status: 'success' })
      expect(stack.fake.requests[0]?.url).toBe('/api/pull')
      // Still only exact, allowlisted paths.
      const nested = await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/blobs/sha256:1/x',
      })
      expect(nested.status).toBe(404)
      expect(stack.fake.requests).toHaveLength(1)
    } finally {
      await stack.close()
    }
  })

  it('is forwarded for an admin key only', async () => {
    const stack = await startStack({
      keys: keyTable({
        'admin-key-0123456789': { id: 'k1', name: 'admin', admin: true },
        'user-key-0123456789': { id: 'k2', name: 'user', admin: false },
      }),
    })
    try {
      const body = '{"model":"qwen2.5:0.5b"}'
      const user = await rawRequest({
        port: stack.port,
        method: 'DELETE',
        path: '/api/delete',
        body,
        headers: { authorization: 'Bearer user-key-0123456789' },
      })
      expect(user.status).toBe(403)
      expect(stack.fake.requests).toHaveLength(0)
      const admin = await rawRequest({
        port: stack.port,
        method: 'DELETE',
        path: '/api/delete',
        body,
        headers: { 'x-api-key': 'admin-key-0123456789' },
      })
      expect(admin.status).toBe(200)
      expect(stack.fake.requests).toHaveLength(1)
    } finally {
      await stack.close()
    }
  })
})

describe('DNS rebinding and CORS', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({
      options: { allowedOrigins: ['https://webui.example'], allowedHosts: ['gateway.lan'] },
    })
  })
  afterAll(() => stack.close())
  afterEach(() => stack.fake.reset())

  it('plain clients on 127.0.0.1:PORT and localhost:PORT without Origin work', async () => {
    expect((await rawRequest({ port: stack.port, path: '/api/version' })).status).toBe(200)
    expect(
      (
        await rawRequest({
          port: stack.port,
          path: '/api/version',
          headers: { host: `localhost:${stack.port}` },
        })
      ).status,
    ).toBe(200)
    expect(
      (
        await rawRequest({
          port: stack.port,
          path: '/api/version',
          headers: { host: `[::1]:${stack.port}` },
        })
      ).status,
    ).toBe(200)
  })

  it('refuses a Host that does not name the gateway', async () => {
    for (const host of [
      `evil.example:${stack.port}`,
      'evil.example',
      `127.0.0.1:${stack.port + 1}`,
      `localhost`,
      `10.0.0.1:${stack.port}`,
      'bad host',
    ]) {
      const res = await rawRequest({ port: stack.port, path: '/api/tags', headers: { host } })
      expect(res.status, host).toBe(403)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'host_not_allowed' })
    }
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('accepts configured host names', async () => {
    const res = await rawRequest({
      port: stack.port,
      path: '/api/version',
      headers: { host: 'gateway.lan:8080' },
    })
    expect(res.status).toBe(200)
  })

  it('refuses a non-loopback Host together with a browser Origin', async () => {
    const res = await rawRequest({
      port: stack.port,
      path: '/api/tags',
      headers: { host: `gateway.lan:${stack.port}`, origin: `http://gateway.lan:${stack.port}` },
    })
    expect(res.status).toBe(403)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('refuses a foreign browser Origin, preflight included, without any CORS grant', async () => {
    const res = await rawRequest({
      port: stack.port,
      path: '/api/tags',
      headers: { origin: 'https://evil.example' },
    })
    expect(res.status).toBe(403)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    const preflight = await rawRequest({
      port: stack.port,
      method: 'OPTIONS',
      path: '/api/chat',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(403)
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined()
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('echoes allowed origins exactly (never *), loopback and configured ones', async () => {
    for (const origin of [
      'https://webui.example',
      'http://localhost:3000',
      'http://127.0.0.1:8080',
    ]) {
      const res = await rawRequest({ port: stack.port, path: '/api/version', headers: { origin } })
      expect(res.status).toBe(200)
      expect(res.headers['access-control-allow-origin']).toBe(origin)
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
      const preflight = await rawRequest({
        port: stack.port,
        method: 'OPTIONS',
        path: '/v1/chat/completions',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers['access-control-allow-origin']).toBe(origin)
      expect(preflight.headers['access-control-allow-headers']).toBe('authorization, content-type')
    }
    // The browser's Origin is not passed on to Ollama (it would judge it again).
    expect(stack.fake.requests.every((r) => r.headers.origin === undefined)).toBe(true)
  })

  it('refuses Origin: null (sandboxed and file pages)', async () => {
    const res = await rawRequest({
      port: stack.port,
      path: '/api/tags',
      headers: { origin: 'null' },
    })
    expect(res.status).toBe(403)
  })
})

describe('client keys', () => {
  const KEY = 'canary-client-key-4f1d2a9b7c'
  const INSTANCE_KEY = 'canary-instance-key-8e3b6d5a1f'
  let stack: Stack
  let logs: () => string

  beforeAll(async () => {
    const captured = capturingLogger()
    logs = captured.text
    stack = await startStack({
      keys: keyTable({ [KEY]: { id: 'key-1', name: 'laptop', admin: false } }),
      options: { requireKeys: true },
      logger: captured.logger,
      backendHeaders: { 'x-ollama-key': INSTANCE_KEY },
    })
  })
  afterAll(() => stack.close())
  afterEach(() => stack.fake.reset())

  it('requires a key when configured, with the same 401 for missing, short and long wrong keys', async () => {
    const bodies = new Set<string>()
    for (const headers of [
      {},
      { authorization: 'Bearer x' },
      { authorization: `Bearer ${KEY}x` },
      { 'x-api-key': 'nope' },
    ]) {
      const res = await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/chat',
        body: CHAT,
        headers,
      })
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer')
      bodies.add(res.body)
    }
    expect(bodies.size).toBe(1)
    const openai = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/v1/chat/completions',
      body: CHAT,
    })
    expect(JSON.parse(openai.body)).toMatchObject({
      error: { type: 'authentication_error', code: 'invalid_api_key' },
    })
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('GET / answers without a key (liveness probe)', async () => {
    const res = await rawRequest({ port: stack.port, path: '/' })
    expect(res).toMatchObject({ status: 200, body: 'Ollama is running' })
  })

  it.each([
    ['authorization', `Bearer ${KEY}`],
    ['x-api-key', KEY],
    ['x-ollama-key', KEY],
  ])('accepts the key as %s and never forwards client credentials', async (name, value) => {
    const res = await rawRequest({
      port: stack.port,
      method: 'POST',
      path: '/api/chat',
      body: CHAT,
      headers: { [name]: value, cookie: 'session=abc' },
    })
    expect(res.status).toBe(200)
    const seen = stack.fake.requests[0]
    expect(JSON.stringify(seen?.headers)).not.toContain(KEY)
    expect(seen?.headers.authorization).toBeUndefined()
    expect(seen?.headers['x-api-key']).toBeUndefined()
    expect(seen?.headers.cookie).toBeUndefined()
    // The instance key travels instead.
    expect(seen?.headers['x-ollama-key']).toBe(INSTANCE_KEY)
  })

  it('keeps client and instance keys out of logs and error bodies on every error path', async () => {
    const auth = { authorization: `Bearer ${KEY}` }
    const bodies: string[] = []
    const hit = async (o: Parameters<typeof rawRequest>[0]) =>
      bodies.push((await rawRequest(o)).body)
    await hit({
      port: stack.port,
      method: 'POST',
      path: '/api/chat',
      body: CHAT,
      headers: { authorization: `Bearer ${KEY}-wrong` },
    })
    await hit({ port: stack.port, path: '/nope', headers: auth })
    await hit({ port: stack.port, path: '/api/../x', headers: auth })
    await hit({ port: stack.port, method: 'POST', path: '/api/pull', body: '{}', headers: auth })
    stack.fake.set({ failBeforeHeaders: 'reset' })
    await hit({ port: stack.port, method: 'POST', path: '/api/chat', body: CHAT, headers: auth })
    stack.fake.set({ failBeforeHeaders: 500 })
    await hit({
      port: stack.port,
      method: 'POST',
      path: '/v1/chat/completions',
      body: CHAT,
      headers: auth,
    })
    stack.fake.set({ failBeforeHeaders: undefined, failAfterChunks: 1 })
    await hit({
      port: stack.port,
      method: 'POST',
      path: '/api/chat',
      body: CHAT.replace('false', 'true'),
      headers: auth,
    })
    await hit({
      port: stack.port,
      method: 'POST',
      path: '/v1/chat/completions',
      body: CHAT.replace('false', 'true'),
      headers: auth,
    })
    expect(bodies.join('\n')).toContain('error')
    expect(logs()).toContain('upstream exchange failed')
    for (const secret of [KEY, INSTANCE_KEY]) {
      expect(bodies.join('\n')).not.toContain(secret)
      expect(logs()).not.toContain(secret)
    }
  })
})

describe('listening address', () => {
  it('refuses to listen on a non-loopback address without a key verifier', async () => {
    const backend = new StaticBackend({ url: 'http://127.0.0.1:9' })
    const gateway = createGateway({ backend, processMetrics: false })
    await expect(gateway.listen('0.0.0.0', 0)).rejects.toMatchObject({ code: 'keys_required' })
    await gateway.close()
    await backend.close()
  })

  it('binds 127.0.0.1 by default and does not require keys there', async () => {
    const backend = new StaticBackend({ url: 'http://127.0.0.1:9' })
    const gateway = createGateway({ backend, processMetrics: false })
    const address = await gateway.listen(undefined, 0)
    expect(address.address).toBe('127.0.0.1')
    expect(gateway.keysRequired).toBe(false)
    const res = await rawExchange(
      address.port,
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    )
    // Port 80 is not this gateway's port: the bare "127.0.0.1" Host is refused.
    expect(res).toMatch(/^HTTP\/1.1 403/)
    await gateway.close()
    await backend.close()
  })
})

describe('asynchronous key verification', () => {
  it('waits for the verifier, and forgets a client that left meanwhile', async () => {
    const pending: Array<
      (identity: { id: string; name: string; admin: boolean } | undefined) => void
    > = []
    const stack = await startStack({
      options: { requireKeys: true },
      keys: { verify: () => new Promise((resolve) => pending.push(resolve)) },
    })
    try {
      const answer = rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"p","stream":false}',
        headers: { 'x-api-key': 'slow-key-0123456789' },
      })
      await until(() => pending.length === 1, 'the verifier to be asked')
      pending[0]?.({ id: 'k', name: 'k', admin: false })
      expect((await answer).status).toBe(200)

      const req = httpRequest({
        host: '127.0.0.1',
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        agent: false,
        headers: { 'x-api-key': 'slow-key-0123456789', 'content-length': 2 },
      })
      req.on('error', () => {})
      req.end('{}')
      await until(() => pending.length === 2, 'the second verification')
      req.destroy()
      await until(
        () => stack.gateway.metrics.requestCount('/api/generate', 499) === 1,
        'the client to be gone',
      )
      pending[1]?.({ id: 'k', name: 'k', admin: false })
      await new Promise((r) => setImmediate(r))
      expect(stack.gateway.stats().inFlight).toBe(0)
      expect(stack.fake.requests).toHaveLength(1)
    } finally {
      await stack.close()
    }
  })
})

describe('in-process use', () => {
  it('handle(req, res) runs the same pipeline inside a server of the caller’s', async () => {
    const fake = await new FakeOllama().start()
    const backend = new StaticBackend({ url: fake.url })
    const gateway = createGateway({ backend, processMetrics: false })
    const server = createServer((req, res) => gateway.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      const ok = await rawRequest({
        port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"p","stream":false}',
      })
      expect(ok.status).toBe(200)
      expect((await rawRequest({ port, path: '/api//tags' })).status).toBe(400)
      expect(
        (await rawRequest({ port, path: '/api/tags', headers: { host: 'evil.example' } })).status,
      ).toBe(403)
      expect(fake.requests).toHaveLength(1)
    } finally {
      await gateway.close()
      await new Promise((resolve) => server.close(resolve))
      await backend.close()
      await fake.close()
    }
  })
})

describe('upstream origin', () => {
  it('only the Upstream origin’s scheme, host and port are used; a malformed one fails that request alone', async () => {
    const fake = await new FakeOllama().start()
    const agent = new Agent()
    let origin = `${fake.url}/prefix/?x=1`
    const backend: Backend = {
      state: () => 'ready',
      ensureReady: async () => ({ origin, dispatcher: agent, headers: {} }),
      activity: { begin: () => () => {} },
    }
    const gateway = createGateway({ backend, processMetrics: false })
    const { port } = await gateway.listen('127.0.0.1', 0)
    try {
      expect((await rawRequest({ port, path: '/api/tags?y=2' })).status).toBe(200)
      expect(fake.requests.map((r) => r.url)).toEqual(['/api/tags?y=2'])
      origin = 'not a url'
      const res = await rawRequest({ port, method: 'POST', path: '/api/chat', body: '{}' })
      expect(res.status).toBe(502)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'upstream_unavailable' })
      expect(gateway.stats().inFlight).toBe(0)
    } finally {
      await gateway.close()
      await agent.close()
      await fake.close()
    }
  })
})
