import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import http2 from 'node:http2'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Ollama } from 'ollama'
import { fetch as undiciFetch, request, type Dispatcher } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPinnedAgent } from '../../src/shared/pinned-tls.js'
import {
  VM_PATHS,
  WATCHDOG_SCRIPT,
  buildUserData,
  generateInstanceCredentials,
  parseBootStatus,
  type InstanceCredentials,
} from '../../src/recipe/index.js'
import { systemTool } from '../helpers/system-deps.js'
import { startFakeOllama, type FakeOllama } from './helpers/fake-ollama.js'
import { startInstanceNginx, type InstanceNginx } from './helpers/instance-nginx.js'

const nginxBin = systemTool('nginx')
const run = promisify(execFile)

describe.skipIf(!nginxBin)('the generated nginx config in real nginx', () => {
  let creds: InstanceCredentials
  let key: string
  let fake: FakeOllama
  let inst: InstanceNginx
  let agent: Dispatcher
  let base: string
  let watchdogPath: string

  beforeAll(async () => {
    creds = await generateInstanceCredentials()
    key = creds.ollamaKey.reveal()
    fake = await startFakeOllama()
    const { userData } = buildUserData({
      name: 'nginx-test',
      ollamaKey: creds.ollamaKey,
      tls: { certPem: creds.certPem, keyPem: creds.keyPem },
      gpu: false,
      idleTimeoutS: 1800,
      maxLifetimeS: 86_400,
    })
    inst = await startInstanceNginx({ nginxBinary: nginxBin!, userData, upstreamPort: fake.port })
    agent = createPinnedAgent({ certPem: creds.certPem })
    base = `https://127.0.0.1:${inst.port}`
    watchdogPath = path.join(tmpdir(), `exollama-watchdog-${process.pid}-${Date.now()}.sh`)
    await writeFile(watchdogPath, WATCHDOG_SCRIPT, { mode: 0o755 })
  })

  afterAll(async () => {
    await inst?.stop()
    await fake?.close()
    await (agent as { close?: () => Promise<void> } | undefined)?.close?.()
    await rm(watchdogPath, { force: true })
  })

  const get = (p: string, headers: Record<string, string> = {}) =>
    request(`${base}${p}`, { dispatcher: agent, headers })
  const post = (p: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    request(`${base}${p}`, {
      dispatcher: agent,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    })

  it('runs the generated config with a minimal rewrite (listen, files, upstream only)', () => {
    const before = inst.generated.split('\n')
    const after = inst.relocated.split('\n')
    expect(after).toHaveLength(before.length)
    const changed = inst.changedLines.map((n) => before[n - 1]!.trim().split(/\s+/)[0])
    // 1 listen, 2 TLS files, 1 alias, 4 access logs (boot, blocked routes, location / ×2), 1 proxy_pass
    expect(changed.sort()).toEqual(
      [
        'listen',
        'ssl_certificate',
        'ssl_certificate_key',
        'alias',
        'access_log',
        'access_log',
        'access_log',
        'access_log',
        'proxy_pass',
      ].sort(),
    )
    for (let i = 0; i < before.length; i++) {
      if (!inst.changedLines.includes(i + 1)) expect(after[i]).toBe(before[i])
    }
  })

  it('answers 401 JSON without the key or with a wrong one', async () => {
    const variants: Record<string, string>[] = [
      {},
      { 'x-ollama-key': 'wrong-key-0123456789abcdef' },
      { 'x-ollama-key': key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase() },
      { 'x-ollama-key': `${key}x` },
      { 'x-ollama-key': key.slice(1) },
      { 'x-ollama-key': ` ${key}z` },
      { authorization: `Bearer ${key.slice(0, -1)}` },
      { authorization: `Basic ${key}` },
      { authorization: key },
      { authorization: `Bearer ${key} extra` },
    ]
    for (const headers of variants) {
      const res = await get('/api/version', headers)
      expect({ headers, status: res.statusCode }).toEqual({ headers, status: 401 })
      expect(res.headers['content-type']).toBe('application/json')
      expect(await res.body.json()).toEqual({ error: 'unauthorized' })
    }
    // None of them reached Ollama.
    expect(fake.requests.filter((r) => r.url === '/api/version')).toHaveLength(0)
  })

  it('passes both key forms (the Bearer scheme in any case)', async () => {
    for (const headers of [
      { 'x-ollama-key': key },
      { authorization: `Bearer ${key}` },
      { authorization: `bearer ${key}` },
    ]) {
      const res = await get('/api/version', headers)
      expect(res.statusCode).toBe(200)
      expect(await res.body.json()).toEqual({ version: '0.32.15' })
    }
  })

  it('sends Ollama Host localhost:11434 and neither key header nor Origin', async () => {
    for (const headers of [
      { 'x-ollama-key': key, origin: 'https://evil.example', 'x-other': 'kept' },
      { authorization: `Bearer ${key}`, origin: 'null', 'x-other': 'kept' },
    ]) {
      const res = await post('/api/echo', '{}', headers)
      expect(res.statusCode).toBe(200)
      const seen = (await res.body.json()) as { headers: Record<string, string> }
      expect(seen.headers.host).toBe('localhost:11434')
      expect(seen.headers['x-other']).toBe('kept')
      expect(seen.headers).not.toHaveProperty('x-ollama-key')
      expect(seen.headers).not.toHaveProperty('authorization')
      expect(seen.headers).not.toHaveProperty('origin')
      expect(JSON.stringify(seen)).not.toContain(key)
    }
  })

  it('relays an NDJSON stream line by line, before Ollama has written the next line', async () => {
    const events: string[] = []
    let releaseNext!: () => void
    fake.gateNextStream(async (i) => {
      events.push(`ollama waits before line ${i}`)
      await new Promise<void>((r) => (releaseNext = r))
      events.push(`ollama writes line ${i}`)
    })
    const res = await post('/api/chat', JSON.stringify({ model: 'm', messages: [] }), {
      'x-ollama-key': key,
    })
    expect(res.headers['content-type']).toBe('application/x-ndjson')
    let buffered = ''
    let lines = 0
    for await (const chunk of res.body) {
      buffered += (chunk as Buffer).toString('utf8')
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as { done: boolean }
        buffered = buffered.slice(nl + 1)
        events.push(`client got line ${lines}${line.done ? ' (done)' : ''}`)
        lines++
        if (!line.done) releaseNext() // only now may Ollama write the next line
      }
    }
    expect(events).toEqual([
      'ollama waits before line 1',
      'client got line 0',
      'ollama writes line 1',
      'ollama waits before line 2',
      'client got line 1',
      'ollama writes line 2',
      'ollama waits before line 3',
      'client got line 2',
      'ollama writes line 3',
      'ollama waits before line 4',
      'client got line 3',
      'ollama writes line 4',
      'client got line 4 (done)',
    ])
  })

  it('passes a 10 MB request body intact', async () => {
    const body = randomBytes(10 * 1024 * 1024)
    const res = await post('/api/echo', body, {
      'x-ollama-key': key,
      'content-type': 'application/octet-stream',
    })
    expect(res.statusCode).toBe(200)
    const seen = (await res.body.json()) as { bodyBytes: number; bodySha256: string }
    expect(seen.bodyBytes).toBe(body.length)
    expect(seen.bodySha256).toBe(createHash('sha256').update(body).digest('hex'))
  })

  it('works with the official ollama client, key header and pinned agent', async () => {
    const ollama = new Ollama({
      host: base,
      headers: { 'X-Ollama-Key': key },
      // undici's fetch with the pinned dispatcher; its types differ from the DOM fetch type only
      // in the dispatcher option, hence the cast.
      fetch: ((input: string, init?: RequestInit) =>
        undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
    })
    expect(await ollama.version()).toEqual({ version: '0.32.15' })
    const parts: string[] = []
    for await (const part of await ollama.chat({
      model: 'qwen2.5:0.5b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    })) {
      parts.push(part.message.content)
      if (part.done) expect(part.done_reason).toBe('stop')
    }
    expect(parts.join('')).toBe('Hello from the fake')
    const single = await ollama.chat({ model: 'm', messages: [], stream: false })
    expect(single.message.content).toBe('Hello from the fake')

    const noKey = new Ollama({
      host: base,
      fetch: ((input: string, init?: RequestInit) =>
        undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
    })
    await expect(noKey.list()).rejects.toMatchObject({ status_code: 401, error: 'unauthorized' })
  })

  it('is reachable through createPinnedAgent with the instance certificate only', async () => {
    const other = await generateInstanceCredentials()
    // A gateway pinned to another certificate refuses this instance…
    const wrongPin = createPinnedAgent({ certPem: other.certPem })
    try {
      const error = await request(`${base}/api/version`, {
        dispatcher: wrongPin,
        headers: { 'x-ollama-key': key },
      }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(Error)
    } finally {
      await wrongPin.close()
    }
    // …and an impostor with its own certificate (same name) is refused by this instance's pin,
    // before the key is sent.
    const impostorSawKey: boolean[] = []
    const impostor = https.createServer(
      { cert: other.certPem, key: other.keyPem.reveal() },
      (req, res) => {
        impostorSawKey.push(req.headers['x-ollama-key'] !== undefined)
        res.end('{}')
      },
    )
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r))
    const impostorPort = (impostor.address() as { port: number }).port
    const pinned = createPinnedAgent({ certPem: creds.certPem })
    try {
      const error = await request(`https://127.0.0.1:${impostorPort}/api/version`, {
        dispatcher: pinned,
        headers: { 'x-ollama-key': key },
      }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(Error)
      expect(impostorSawKey).toEqual([])
      // The right pin works over a fresh connection.
      const res = await request(`${base}/`, {
        dispatcher: pinned,
        headers: { 'x-ollama-key': key },
      })
      expect(await res.body.text()).toBe('Ollama is running')
    } finally {
      await pinned.close()
      impostor.close()
    }
  })

  it('speaks HTTP/2 when the client offers it', async () => {
    const session = http2.connect(base, {
      ca: creds.certPem,
      checkServerIdentity: () => undefined,
    })
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/api/version', 'x-ollama-key': key })
        req.on('response', (h) => resolve(Number(h[':status'])))
        req.on('error', reject)
        req.end()
      })
      expect(session.alpnProtocol).toBe('h2')
      expect(status).toBe(200)
    } finally {
      session.close()
    }
  })

  it('refuses ollama.com account routes even with the key', async () => {
    for (const p of [
      '/api/me',
      '/api/signout',
      '/api/experimental/web_search',
      '/api/user/keys/x',
    ]) {
      const res = await post(p, '{}', { 'x-ollama-key': key })
      expect(res.statusCode).toBe(403)
      expect(res.headers['content-type']).toBe('application/json')
      await res.body.dump()
      const anonymous = await post(p, '{}')
      expect(anonymous.statusCode).toBe(401)
      await anonymous.body.dump()
    }
    expect(fake.requests.some((r) => r.url.startsWith('/api/me'))).toBe(false)
  })

  it('serves /exollama/boot from the status file, key required, 503 before the first write', async () => {
    const statusFile = path.join(inst.stateDir, 'boot.json')
    await rm(statusFile, { force: true })
    const before = await get('/exollama/boot', { 'x-ollama-key': key })
    expect(before.statusCode).toBe(503)
    expect(before.headers['content-type']).toBe('application/json')
    expect(await before.body.json()).toEqual({ error: 'booting' })

    const status = {
      state: 'running',
      phase: 'image-pull',
      percent: 55,
      error: null,
      updated_at: 1767225600,
      gpu: false,
    }
    await writeFile(statusFile, JSON.stringify(status) + '\n', { mode: 0o644 })
    const after = await get('/exollama/boot', { authorization: `Bearer ${key}` })
    expect(after.statusCode).toBe(200)
    expect(after.headers['content-type']).toBe('application/json')
    expect(after.headers['cache-control']).toBe('no-store')
    const body = await after.body.json()
    expect(body).toEqual(status)
    expect(parseBootStatus(body)).toEqual(status)

    const anonymous = await get('/exollama/boot')
    expect(anonymous.statusCode).toBe(401)
    expect(await anonymous.body.json()).toEqual({ error: 'unauthorized' })
    // The boot status is served by nginx itself.
    expect(fake.requests.some((r) => r.url.includes('exollama'))).toBe(false)
  })

  it('logs authenticated inference (and only that) for the watchdog, which reads it', async () => {
    const activityLog = path.join(inst.stateDir, 'activity.log')
    const logText = () => readFile(activityLog, 'utf8').catch(() => '')
    // nginx writes a line just after the response went out, so a test reads the log only after
    // a marker request (a unique inference URI) has been logged: with one worker, everything
    // that finished before it is in the file by then.
    const mark = async (name: string): Promise<number> => {
      const uri = `/api/blobs/${name}-${Date.now()}`
      await (await post(uri, '', { 'x-ollama-key': key })).body.dump()
      for (let attempt = 0; attempt < 500; attempt++) {
        const text = await logText()
        const at = text.indexOf(` ${uri} `)
        if (at >= 0) return text.indexOf('\n', at) + 1
        await new Promise((r) => setTimeout(r, 10))
      }
      throw new Error(`nginx never logged ${uri}`)
    }

    const start = await mark('start')
    // Polls and unauthenticated calls are not activity…
    for (const p of ['/api/tags', '/api/version', '/exollama/boot']) {
      await (await get(p, { 'x-ollama-key': key })).body.dump()
    }
    await (await post('/api/chat', '{"model":"m","stream":false}')).body.dump()
    await (await post('/api/generate', '{}', { 'x-ollama-key': 'nope-nope-nope-nope' })).body.dump()
    // …authenticated inference is, with either key form.
    await (
      await post('/api/chat', '{"model":"m","stream":false}', { 'x-ollama-key': key })
    ).body.dump()
    await (await post('/v1/chat/completions', '{}', { authorization: `Bearer ${key}` })).body.dump()
    const end = await mark('end')
    const lines = (await logText()).slice(start, end).trim().split('\n')
    expect(lines.map((l) => l.split(' ').slice(1, 4).join(' '))).toEqual([
      '200 POST /api/chat',
      '404 POST /v1/chat/completions',
      expect.stringMatching(/^404 POST \/api\/blobs\/end-\d+$/),
    ])
    const lastEnd = Math.floor(Number(lines[2]!.split(' ')[0]))
    expect(Number.isInteger(lastEnd)).toBe(true)

    // The real watchdog decides from the log nginx wrote.
    const decide = async (now: number) =>
      (
        await run('bash', [
          watchdogPath,
          'decide',
          '--log',
          activityLog,
          '--uptime',
          '100000',
          '--now',
          String(now),
          '--idle',
          '60',
          '--grace',
          '10',
          '--max-lifetime',
          '999999',
        ])
      ).stdout.trim()
    expect(await decide(lastEnd + 69)).toBe('keep idle idle_s=69 limit_s=70 since=request')
    expect(await decide(lastEnd + 70)).toBe('poweroff idle idle_s=70 limit_s=70 since=request')
  })

  it('keeps the nginx→Ollama connection open exactly while a stream is in flight', async () => {
    const inFlight = async () =>
      Number((await run('bash', [watchdogPath, 'in-flight', String(fake.port)])).stdout.trim())
    let release!: () => void
    let waiting!: () => void
    const ollamaWaiting = new Promise<void>((r) => (waiting = r))
    fake.gateNextStream(async (i) => {
      if (i === 1) {
        waiting()
        await new Promise<void>((r) => (release = r))
      }
    })
    const res = await post('/api/chat', '{"model":"m"}', { 'x-ollama-key': key })
    await ollamaWaiting
    expect(await inFlight()).toBe(1)
    release()
    await res.body.text()
    // No upstream keepalive: the connection closes with the response.
    let count = -1
    for (let attempt = 0; attempt < 100 && count !== 0; attempt++) {
      count = await inFlight()
    }
    expect(count).toBe(0)
  })
})

describe.skipIf(!nginxBin)('the generated nginx config with allowed CIDRs', () => {
  let creds: InstanceCredentials
  let fake: FakeOllama
  let inst: InstanceNginx

  beforeAll(async () => {
    creds = await generateInstanceCredentials()
    fake = await startFakeOllama()
    const { userData } = buildUserData({
      name: 'cidr-test',
      ollamaKey: creds.ollamaKey,
      tls: { certPem: creds.certPem, keyPem: creds.keyPem },
      gpu: false,
      idleTimeoutS: 60,
      maxLifetimeS: 3600,
      allowedCidrs: ['10.0.0.0/8', '127.0.0.3/32'],
    })
    inst = await startInstanceNginx({ nginxBinary: nginxBin!, userData, upstreamPort: fake.port })
  })

  afterAll(async () => {
    await inst?.stop()
    await fake?.close()
  })

  const fromAddress = (localAddress: string, headers: Record<string, string>) =>
    new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: inst.port,
          path: '/api/version',
          localAddress,
          headers,
          ca: creds.certPem,
          checkServerIdentity: () => undefined,
        },
        (res) => {
          let body = ''
          res.on('data', (c: Buffer) => (body += c.toString('utf8')))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
          )
        },
      )
      req.on('error', reject)
      req.end()
    })

  it('refuses other networks with 403 JSON before looking at the key', async () => {
    const key = creds.ollamaKey.reveal()
    for (const headers of [{}, { 'x-ollama-key': key }]) {
      const denied = await fromAddress('127.0.0.2', headers)
      expect(denied).toEqual({
        status: 403,
        type: 'application/json',
        body: '{"error":"forbidden"}\n',
      })
    }
    const allowed = await fromAddress('127.0.0.3', { 'x-ollama-key': key })
    expect(allowed.status).toBe(200)
    // Loopback itself is always allowed (the VM's own health check).
    expect((await fromAddress('127.0.0.1', {})).status).toBe(401)
    expect((await fromAddress('127.0.0.1', { 'x-ollama-key': key })).status).toBe(200)
  })

  it('keeps the security-group networks in a geo block that nginx accepted', () => {
    expect(inst.generated).toContain('    10.0.0.0/8 1;')
    expect(inst.generated).toContain(VM_PATHS.tlsCert)
  })
})
