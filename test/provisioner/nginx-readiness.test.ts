import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { findFreePort } from '../../src/shared/nginx-process.js'
import { systemTool } from '../helpers/system-deps.js'
import { eventually, startHarness, type Harness } from './helpers/harness.js'
import { startRealInstanceNginx, type RealInstanceNginx } from './helpers/real-nginx.js'

const nginxBin = systemTool('nginx')

interface Seen {
  path: string
  headers: http.IncomingHttpHeaders
  body: string
}

/** Ollama behind the instance's nginx: version, tags and a streaming pull. */
async function startOllama(): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? ''
      seen.push({ path, headers: req.headers, body })
      res.setHeader('content-type', 'application/json')
      if (path === '/api/version') {
        res.end(JSON.stringify({ version: '0.32.15' }))
      } else if (path === '/api/tags') {
        res.end(JSON.stringify({ models: [{ name: 'qwen2.5:0.5b' }] }))
      } else if (path === '/api/pull') {
        res.write(`${JSON.stringify({ status: 'pulling manifest' })}\n`)
        res.write(`${JSON.stringify({ status: 'pulling x', total: 2, completed: 2 })}\n`)
        res.end(`${JSON.stringify({ status: 'success' })}\n`)
      } else {
        res.statusCode = 404
        res.end('{"error":"not found"}')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

let h: Harness
let nginx: RealInstanceNginx | undefined
let ollama: Awaited<ReturnType<typeof startOllama>> | undefined
afterEach(async () => {
  await nginx?.stop()
  await ollama?.close()
  await h?.close()
})

const status = (state: string, phase: string, percent: number) => ({
  state,
  phase,
  percent,
  error: null,
  updated_at: Math.floor(Date.now() / 1000),
  gpu: false,
})

describe.skipIf(!nginxBin)('readiness through the recipe’s real nginx', () => {
  it('refused, then 503 booting, then phases, then ready: pinned TLS, key checked by nginx, version and pull through it', async () => {
    h = await startHarness()
    ollama = await startOllama()
    const port = await findFreePort()
    const p = h.provisioner({ instanceOrigin: () => `https://127.0.0.1:${port}` })
    let userData: string | undefined
    h.sim.onInstanceEvent((e) => {
      if (e.type === 'created') userData = e.instance.userData
    })
    const wake = p.ensureReady({ reason: 'nginx test' })
    // The instance runs; nothing listens yet (refused), then nginx comes up with no boot file.
    await eventually(() => p.state() === 'booting', 'booting')
    await new Promise((r) => setTimeout(r, 100))
    nginx = await startRealInstanceNginx({
      nginxBinary: nginxBin!,
      userData: userData!,
      port,
      upstreamPort: ollama.port,
    })
    await new Promise((r) => setTimeout(r, 200))
    expect(p.state()).toBe('booting') // 503 "booting" is not ready
    await nginx.writeBoot(status('running', 'image-pull', 55))
    await eventually(
      () => h.events().some((e) => e.type === 'boot' && e.phase === 'image-pull'),
      'the image-pull phase',
    )
    await nginx.writeBoot(status('ready', 'ready', 100))
    const ready = await wake

    // Ollama saw the gateway's calls through nginx, without the key (nginx strips it).
    const paths = ollama.seen.map((s) => s.path)
    expect(paths).toEqual(expect.arrayContaining(['/api/version', '/api/pull', '/api/tags']))
    for (const s of ollama.seen) {
      expect(s.headers['x-ollama-key']).toBeUndefined()
      expect(s.headers.host).toBe('localhost:11434')
    }
    expect(JSON.parse(ollama.seen.find((s) => s.path === '/api/pull')?.body ?? '{}')).toEqual({
      model: 'qwen2.5:0.5b',
      stream: true,
    })
    // The upstream handed to the gateway works through nginx; without the key nginx refuses.
    const ok = await ready.dispatcher.request({
      origin: ready.origin,
      path: '/api/tags',
      method: 'GET',
      headers: ready.headers,
    })
    expect(ok.statusCode).toBe(200)
    expect(await ok.body.json()).toEqual({ models: [{ name: 'qwen2.5:0.5b' }] })
    const refused = await ready.dispatcher.request({
      origin: ready.origin,
      path: '/api/tags',
      method: 'GET',
    })
    expect(refused.statusCode).toBe(401)
    await refused.body.dump()
    expect(p.state()).toBe('ready')
  })
})
