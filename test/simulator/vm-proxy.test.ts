import { readFile, rename } from 'node:fs/promises'
import https from 'node:https'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DEFAULT_OLLAMA_IMAGE_TAG,
  generateInstanceCredentials,
  parseBootStatus,
} from '../../src/recipe/index.js'
import { createPinnedAgent } from '../../src/shared/index.js'
import type { FakeOllama, ProxyKind, VmInfo } from '../../src/simulator/index.js'
import { systemTool } from '../helpers/system-deps.js'
import {
  createWith,
  failure,
  instanceClient,
  isReady,
  recipe,
  startVmSim,
  type InstanceClient,
  type Recipe,
  type VmSim,
} from './helpers/vm.js'

/**
 * One behavioural suite for both front doors of the emulated VM: real nginx running the
 * recipe's own config, and the Node stand-in interpreting it. A gateway's view only: the
 * instance's IP and port from the API, the pinned certificate and the key.
 */
const nginx = systemTool('nginx')
const kinds: { kind: ProxyKind; skip: boolean }[] = [
  { kind: 'nginx', skip: !nginx },
  { kind: 'standin', skip: false },
]

describe.each(kinds)('the emulated VM behind $kind', ({ kind, skip }) => {
  let h: VmSim
  let r: Recipe
  let id: string
  let vm: VmInfo
  let fake: FakeOllama
  let c: InstanceClient

  beforeAll(async () => {
    if (skip) return
    h = await startVmSim({ vm: { proxy: kind, ...(nginx ? { nginxBinary: nginx } : {}) } })
    r = await recipe()
    id = await createWith(h.target, r.userData)
    vm = await h.sim.vm.waitFor(id, (v) => isReady(v) || v.bootStatus?.state === 'failed')
    fake = vm.ollama as FakeOllama
    c = instanceClient(vm, r)
  })

  afterAll(async () => {
    await c?.close()
    await h?.sim.close()
  })

  it.skipIf(skip)(
    'boots the recipe to ready on the instance IP, with its certificate',
    async () => {
      expect(vm.bootStatus).toMatchObject({ state: 'ready', phase: 'ready', percent: 100 })
      expect(vm.proxy).toBe(kind)
      expect(vm.ip).toMatch(/^127\.10\.\d+\.\d+$/)
      expect(vm.ip).toBe(h.sim.state.instance(id)?.publicIp)
      expect(vm.port).toBe(11435)
      expect(vm.certFingerprint).toBe(r.creds.fingerprint256)
      if (kind === 'nginx') expect(vm.nginxPid).toBeGreaterThan(0)
      else expect(vm.nginxPid).toBeUndefined()

      const res = await c.get('/exollama/boot')
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('application/json')
      expect(res.headers['cache-control']).toBe('no-store')
      const body = await res.body.json()
      expect(parseBootStatus(body)).toEqual(vm.bootStatus)
      // The boot status is served from the file, not by Ollama.
      expect(fake.requests.some((q) => q.url.includes('exollama'))).toBe(false)
    },
  )

  it.skipIf(skip)('wants the key: 401 JSON otherwise, both header forms pass', async () => {
    const variants: Record<string, string>[] = [
      {},
      { 'x-ollama-key': 'wrong-key-0123456789abcdef' },
      { 'x-ollama-key': `${r.key}x` },
      { 'x-ollama-key': r.key.slice(1) },
      { authorization: `Bearer ${r.key.slice(0, -1)}` },
      { authorization: `Basic ${r.key}` },
      { authorization: r.key },
    ]
    const before = fake.requests.length
    for (const headers of variants) {
      for (const path of ['/api/version', '/exollama/boot', '/api/tags']) {
        const res = await c.get(path, headers)
        expect({ headers, path, status: res.statusCode }).toEqual({ headers, path, status: 401 })
        expect(res.headers['content-type']).toBe('application/json')
        expect(await res.body.json()).toEqual({ error: 'unauthorized' })
      }
    }
    expect(fake.requests.length).toBe(before) // none reached Ollama
    for (const headers of [
      { 'x-ollama-key': r.key },
      { authorization: `Bearer ${r.key}` },
      { authorization: `bearer ${r.key}` },
    ]) {
      const res = await c.get('/api/version', headers)
      expect(res.statusCode).toBe(200)
      expect(await res.body.json()).toEqual({ version: DEFAULT_OLLAMA_IMAGE_TAG })
    }
  })

  it.skipIf(skip)('chats and generates through the official ollama client', async () => {
    const ollama = c.ollama()
    expect(await ollama.version()).toEqual({ version: DEFAULT_OLLAMA_IMAGE_TAG })
    const parts: string[] = []
    let last: { done: boolean } | undefined
    for await (const part of await ollama.chat({
      model: 'qwen2.5:0.5b',
      messages: [{ role: 'user', content: 'Why is the sky blue?' }],
      stream: true,
    })) {
      parts.push(part.message.content)
      last = part
    }
    expect(parts.length).toBeGreaterThan(1)
    expect(parts.join('').trim()).not.toBe('')
    expect(last?.done).toBe(true)

    const single = await ollama.chat({
      model: 'qwen2.5:0.5b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    })
    expect(single.done).toBe(true)
    expect(single.message.content.trim()).not.toBe('')

    const generated = await ollama.generate({
      model: 'any-name:7b',
      prompt: 'hello',
      stream: false,
    })
    expect(generated.done).toBe(true)
    expect((generated.response ?? '').trim()).not.toBe('')
    const pieces: string[] = []
    let done = false
    for await (const part of await ollama.generate({
      model: 'any-name:7b',
      prompt: 'hello',
      stream: true,
    })) {
      pieces.push(part.response ?? '')
      done = part.done
    }
    expect(done).toBe(true)
    expect(pieces.join('').trim()).not.toBe('')

    // The Bearer form works for the client too.
    const bearer = c.ollama({ Authorization: `Bearer ${r.key}` })
    expect((await bearer.chat({ model: 'm', messages: [], stream: false })).done).toBe(true)
    // And without the key, the client gets Ollama's error shape.
    await expect(c.ollama({}).list()).rejects.toMatchObject({
      status_code: 401,
      error: 'unauthorized',
    })
  })

  it.skipIf(skip)('pulls with progress; the model is listed afterwards', async () => {
    const ollama = c.ollama()
    expect((await ollama.list()).models.map((m) => m.name)).not.toContain('llama3.2:1b')
    const statuses: string[] = []
    let completed = 0
    for await (const p of await ollama.pull({ model: 'llama3.2:1b', stream: true })) {
      statuses.push(p.status)
      if (p.completed) completed = Math.max(completed, p.completed)
    }
    expect(statuses[0]).toBe('pulling manifest')
    expect(statuses.at(-1)).toBe('success')
    expect(completed).toBeGreaterThan(0)
    expect((await ollama.list()).models.map((m) => m.name)).toContain('llama3.2:1b')
  })

  it.skipIf(skip)(
    'sends Ollama Host localhost:11434 and neither key header nor Origin',
    async () => {
      for (const headers of [
        { 'x-ollama-key': r.key, origin: 'https://evil.example', 'x-other': 'kept' },
        { authorization: `Bearer ${r.key}`, origin: 'null', 'x-other': 'kept' },
      ]) {
        const res = await c.post('/api/show', { model: 'qwen2.5:0.5b' }, headers)
        expect(res.statusCode).toBe(200)
        await res.body.dump()
        const seen = fake.requests.at(-1)
        expect(seen?.url).toBe('/api/show')
        expect(seen?.headers.host).toBe('localhost:11434')
        expect(seen?.headers['x-other']).toBe('kept')
        expect(seen?.headers).not.toHaveProperty('x-ollama-key')
        expect(seen?.headers).not.toHaveProperty('authorization')
        expect(seen?.headers).not.toHaveProperty('origin')
        expect(JSON.stringify(seen)).not.toContain(r.key)
      }
    },
  )

  it.skipIf(skip)(
    'streams each chunk as Ollama writes it, and a client that leaves stops Ollama',
    async () => {
      // Ollama writes one chunk, then waits an hour before the next: a buffering proxy would
      // deliver nothing.
      fake.set({ chunkDelayMs: 3_600_000 })
      const controller = new AbortController()
      try {
        const res = await request(`${c.origin}/api/chat`, {
          dispatcher: c.agent,
          method: 'POST',
          body: JSON.stringify({
            model: 'qwen2.5:0.5b',
            messages: [{ role: 'user', content: 'x' }],
          }),
          headers: { 'content-type': 'application/json', 'x-ollama-key': r.key },
          signal: controller.signal,
        })
        expect(res.statusCode).toBe(200)
        expect(res.headers['content-type']).toBe('application/x-ndjson')
        let text = ''
        for await (const chunk of res.body) {
          text += (chunk as Buffer).toString('utf8')
          if (text.includes('\n')) break
        }
        const first = JSON.parse(text.slice(0, text.indexOf('\n'))) as { done: boolean }
        expect(first.done).toBe(false)
        const record = fake.requests.at(-1)
        expect(record?.url).toBe('/api/chat')
        expect(record?.finished).toBe(false)
        const aborted = fake.nextAbort((q) => q === record)
        controller.abort()
        // The proxy closed its upstream request when the client left.
        expect((await aborted).aborted).toBe(true)
      } finally {
        fake.set({ chunkDelayMs: 0 })
      }
    },
  )

  it.skipIf(skip)(
    'refuses other certificates: a pin mismatch never reaches the key check',
    async () => {
      const other = await generateInstanceCredentials()
      const wrong = createPinnedAgent({ certPem: other.certPem })
      const before = fake.requests.length
      try {
        const error = await failure(
          request(`${c.origin}/api/version`, {
            dispatcher: wrong,
            headers: { 'x-ollama-key': r.key },
          }),
        )
        expect(error).toBeInstanceOf(Error)
      } finally {
        await wrong.close()
      }
      expect(fake.requests.length).toBe(before)
    },
  )

  it.skipIf(skip)('refuses ollama.com account routes, key or not', async () => {
    for (const path of ['/api/me', '/api/signout', '/api/experimental/web_search']) {
      const res = await c.post(path, {})
      expect(res.statusCode).toBe(403)
      expect(res.headers['content-type']).toBe('application/json')
      expect(await res.body.json()).toEqual({ error: 'not available on this instance' })
      const anonymous = await c.post(path, {}, {})
      expect(anonymous.statusCode).toBe(401)
      await anonymous.body.dump()
    }
    expect(fake.requests.some((q) => q.url.startsWith('/api/me'))).toBe(false)
  })

  it.skipIf(skip)('logs authenticated inference, and only that, to the activity log', async () => {
    const log = vm.paths.activityLog as string
    const read = () => readFile(log, 'utf8').catch(() => '')
    // nginx writes a line when a request ends: wait for a unique marker line.
    const mark = async (name: string) => {
      const uri = `/api/blobs/${name}-${Math.random().toString(36).slice(2)}`
      await (await c.post(uri, '')).body.dump()
      for (let attempt = 0; attempt < 500; attempt++) {
        const text = await read()
        const at = text.indexOf(` ${uri} `)
        if (at >= 0) return text.indexOf('\n', at) + 1
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      throw new Error(`never logged: ${uri}`)
    }
    const start = await mark('start')
    await (await c.get('/api/tags')).body.dump()
    await (await c.get('/exollama/boot')).body.dump()
    await (
      await c.post('/api/generate', { model: 'm', prompt: 'p', stream: false }, {})
    ).body.dump()
    await (
      await c.post(
        '/api/generate',
        { model: 'm', prompt: 'p', stream: false },
        {
          authorization: `Bearer ${r.key}`,
        },
      )
    ).body.dump()
    const end = await mark('end')
    const lines = (await read()).slice(start, end).trim().split('\n')
    expect(lines.map((l) => l.split(' ').slice(1, 4).join(' '))).toEqual([
      '200 POST /api/generate',
      expect.stringMatching(/^404 POST \/api\/blobs\/end-/),
    ])
    expect(Number(lines[0]?.split(' ')[0])).toBeGreaterThan(1_700_000_000)
  })

  it.skipIf(skip)(
    'answers 503 {"error":"booting"} while there is no status file, key first',
    async () => {
      const file = vm.paths.bootStatus as string
      await rename(file, `${file}.away`)
      try {
        const res = await c.get('/exollama/boot')
        expect(res.statusCode).toBe(503)
        expect(res.headers['content-type']).toBe('application/json')
        expect(res.headers['cache-control']).toBe('no-store')
        expect(await res.body.json()).toEqual({ error: 'booting' })
        const anonymous = await c.get('/exollama/boot', {})
        expect(anonymous.statusCode).toBe(401)
        await anonymous.body.dump()
      } finally {
        await rename(`${file}.away`, file)
      }
      expect((await c.get('/exollama/boot')).statusCode).toBe(200)
    },
  )

  it.skipIf(skip)(
    'refuses networks outside EXOLLAMA_ALLOWED_CIDRS with 403 before the key',
    async () => {
      const limited = await recipe({ allowedCidrs: ['10.0.0.0/8', '127.0.0.3/32'] })
      const other = await createWith(h.target, limited.userData)
      const lvm = await h.sim.vm.waitFor(other, isReady)
      const from = (localAddress: string, headers: Record<string, string>) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = https.request(
            {
              host: lvm.ip,
              port: lvm.port,
              path: '/api/version',
              localAddress,
              headers,
              ca: limited.creds.certPem,
              checkServerIdentity: () => undefined,
              agent: false,
            },
            (res) => {
              let body = ''
              res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
            },
          )
          req.on('error', reject)
          req.end()
        })
      const key = { 'x-ollama-key': limited.key }
      expect(await from('127.0.0.2', key)).toEqual({ status: 403, body: '{"error":"forbidden"}\n' })
      expect(await from('127.0.0.2', {})).toEqual({ status: 403, body: '{"error":"forbidden"}\n' })
      expect((await from('127.0.0.3', key)).status).toBe(200)
      // Loopback is the VM's own health check: allowed, key still required.
      expect((await from('127.0.0.1', {})).status).toBe(401)
    },
  )

  // Only nginx runs the config text; the stand-in interprets it.
  if (kind === 'nginx')
    it.skipIf(skip)('runs the generated config changed only in listen, files and upstream', () => {
      const relocated = vm.relocation?.[0]
      expect(relocated?.vmPath).toBe('/etc/nginx/conf.d/exollama.conf')
      const changed = relocated?.changedLines ?? []
      const runLines = relocated?.text.split('\n') ?? []
      const kinds = changed.map((n) => runLines[n - 1]?.trim().split(/\s+/)[0]).sort()
      expect(kinds).toEqual(
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
      expect(runLines.find((l) => l.trim().startsWith('listen'))?.trim()).toBe(
        `listen ${vm.ip}:11435 ssl http2;`,
      )
    })
})
