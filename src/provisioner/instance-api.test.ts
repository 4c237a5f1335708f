import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { generateInstanceCredentials, type InstanceCredentials } from '../recipe/index.js'
import { createPinnedAgent, ManualClock, systemClock } from '../shared/index.js'
import { findFreePort } from '../shared/nginx-process.js'
import {
  fetchOllamaVersion,
  probeBootStatus,
  pullModel,
  type InstanceEndpoint,
  type PullProgress,
} from './instance-api.js'
import { waitForBootReady } from './readiness.js'

let served: InstanceCredentials
let other: InstanceCredentials
beforeAll(async () => {
  served = await generateInstanceCredentials()
  other = await generateInstanceCredentials()
})

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function serve(handler: Handler, creds = served): Promise<string> {
  const server = createServer({ cert: creds.certPem, key: creds.keyPem.reveal() }, handler)
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function endpoint(origin: string, pinned = served, key = 'the-key'): InstanceEndpoint {
  return {
    instanceId: 'i-1',
    origin,
    dispatcher: createPinnedAgent({ certPem: pinned.certPem }),
    headers: { 'X-Ollama-Key': key },
  }
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

const probe = (ep: InstanceEndpoint) =>
  probeBootStatus(ep, { clock: systemClock, timeoutMs: 2_000 })

describe('probeBootStatus', () => {
  it('connection refused and 503 "booting" are "not yet"; a status is parsed', async () => {
    const closed = await findFreePort()
    expect(await probe(endpoint(`https://127.0.0.1:${closed}`))).toEqual({
      kind: 'not-yet',
      detail: 'ECONNREFUSED',
    })
    let n = 0
    const origin = await serve((req, res) => {
      expect(req.headers['x-ollama-key']).toBe('the-key')
      if (n++ === 0) return json(res, 503, { error: 'booting' })
      json(res, 200, {
        state: 'running',
        phase: 'docker',
        percent: 25,
        error: null,
        updated_at: 1,
        gpu: false,
      })
    })
    const ep = endpoint(origin)
    expect(await probe(ep)).toEqual({ kind: 'not-yet', detail: 'HTTP 503' })
    expect(await probe(ep)).toMatchObject({
      kind: 'status',
      status: { phase: 'docker', percent: 25 },
    })
  })

  it('a server with another certificate is refused (tls_pin_mismatch), never trusted', async () => {
    let reached = false
    const origin = await serve((_req, res) => {
      reached = true
      json(res, 200, {})
    }, other)
    await expect(probe(endpoint(origin, served))).rejects.toMatchObject({
      code: 'tls_pin_mismatch',
    })
    expect(reached).toBe(false)
  })

  it('a refused key and an answer that is not a boot status are errors, not "not yet"', async () => {
    const origin = await serve((req, res) =>
      req.headers['x-ollama-key'] === 'the-key'
        ? json(res, 200, { hello: 'world' })
        : json(res, 401, { error: 'unauthorized' }),
    )
    await expect(probe(endpoint(origin, served, 'wrong-key'))).rejects.toMatchObject({
      code: 'instance_key_rejected',
    })
    await expect(probe(endpoint(origin))).rejects.toMatchObject({ code: 'instance_bad_answer' })
  })

  it('a server that never answers is "not yet" after the probe timeout', async () => {
    const origin = await serve(() => {})
    const clock = new ManualClock()
    const pending = probeBootStatus(endpoint(origin), { clock, timeoutMs: 5_000 })
    await new Promise((r) => setTimeout(r, 50))
    await clock.advance(5_000)
    expect(await pending).toEqual({ kind: 'not-yet', detail: 'no answer in time' })
  })
})

describe('waitForBootReady', () => {
  it('backs off to at most the cap and stops at state ready', async () => {
    const phases = ['packages', 'docker', 'image-pull', 'health']
    let n = 0
    const origin = await serve((_req, res) => {
      const i = n++
      const phase = phases[i]
      json(res, 200, {
        state: phase ? 'running' : 'ready',
        phase: phase ?? 'ready',
        percent: phase ? (i + 1) * 20 : 100,
        error: null,
        updated_at: i,
        gpu: false,
      })
    })
    const sleeps: number[] = []
    const clock = {
      now: () => systemClock.now(),
      setTimer: systemClock.setTimer,
      sleep: (ms: number) => {
        sleeps.push(ms)
        return Promise.resolve()
      },
    }
    const seen: string[] = []
    const status = await waitForBootReady(endpoint(origin), {
      clock,
      signal: new AbortController().signal,
      probeTimeoutMs: 2_000,
      initialDelayMs: 1_000,
      maxDelayMs: 2_000,
      onStatus: (s) => seen.push(s.phase),
    })
    expect(status.state).toBe('ready')
    expect(seen).toEqual(['packages', 'docker', 'image-pull', 'health', 'ready'])
    expect(sleeps).toEqual([1_000, 1_500, 2_000, 2_000])
  })

  it('after a start, the previous boot’s `ready` on disk is not taken for this boot’s', async () => {
    const now = Math.floor(Date.now() / 1000)
    const sequences = {
      // The old file, then this boot's first write (by a clock that lags: an older stamp).
      lagging: [
        { state: 'ready', phase: 'ready', updated_at: now - 3600 },
        { state: 'ready', phase: 'ready', updated_at: now - 3600 },
        { state: 'running', phase: 'ollama-start', updated_at: now - 5 },
        { state: 'ready', phase: 'ready', updated_at: now - 4 },
      ],
      // The old file, then a fresh `ready` stamped after the start.
      synced: [
        { state: 'ready', phase: 'ready', updated_at: now - 3600 },
        { state: 'ready', phase: 'ready', updated_at: now + 1 },
      ],
    }
    for (const [name, statuses] of Object.entries(sequences)) {
      let n = 0
      const origin = await serve((_req, res) => {
        const s = statuses[Math.min(n++, statuses.length - 1)]
        json(res, 200, { ...s, percent: 100, error: null, gpu: false })
      })
      const notYet: string[] = []
      const status = await waitForBootReady(endpoint(origin), {
        clock: systemClock,
        signal: new AbortController().signal,
        probeTimeoutMs: 2_000,
        initialDelayMs: 1,
        maxDelayMs: 1,
        freshSince: { sinceMs: now * 1000, toleranceMs: 0 },
        onNotYet: (d) => notYet.push(d),
      })
      expect(status.updated_at, name).toBe(statuses.at(-1)?.updated_at)
      expect(n, name).toBe(statuses.length)
      expect(notYet[0], name).toBe("the previous boot's status (ready)")
    }
  })

  it('a failed boot throws with the VM’s reason', async () => {
    const origin = await serve((_req, res) =>
      json(res, 200, {
        state: 'failed',
        phase: 'gpu-driver',
        percent: 30,
        error: 'nvidia-driver-580-server: dkms build failed',
        updated_at: 1,
        gpu: true,
      }),
    )
    await expect(
      waitForBootReady(endpoint(origin), {
        clock: systemClock,
        signal: new AbortController().signal,
        probeTimeoutMs: 2_000,
        initialDelayMs: 10,
        maxDelayMs: 20,
      }),
    ).rejects.toMatchObject({
      message: 'boot failed at gpu-driver: nvidia-driver-580-server: dkms build failed',
    })
  })
})

describe('fetchOllamaVersion and pullModel', () => {
  it('reads the version', async () => {
    const origin = await serve((_req, res) => json(res, 200, { version: '0.32.15' }))
    expect(
      await fetchOllamaVersion(endpoint(origin), { clock: systemClock, timeoutMs: 2_000 }),
    ).toBe('0.32.15')
  })

  it('streams pull progress, split across chunks, until success', async () => {
    let body = ''
    const origin = await serve((req, res) => {
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        res.write('{"status":"pulling manifest"}\n{"status":"pulling ab","digest":"sha256:ab",')
        setTimeout(() => {
          res.write(
            '"total":10,"completed":5}\n{"status":"pulling ab","total":10,"completed":10}\n',
          )
          res.end('{"status":"success"}')
        }, 10)
      })
    })
    const progress: PullProgress[] = []
    await pullModel(endpoint(origin), 'qwen2.5:0.5b', {
      clock: systemClock,
      onProgress: (p) => progress.push(p),
    })
    expect(JSON.parse(body)).toEqual({ model: 'qwen2.5:0.5b', stream: true })
    expect(progress).toEqual([
      { model: 'qwen2.5:0.5b', status: 'pulling manifest' },
      { model: 'qwen2.5:0.5b', status: 'pulling ab', digest: 'sha256:ab', total: 10, completed: 5 },
      { model: 'qwen2.5:0.5b', status: 'pulling ab', total: 10, completed: 10 },
      { model: 'qwen2.5:0.5b', status: 'success' },
    ])
  })

  it('an error line, or a stream that ends without success, is model_pull_failed', async () => {
    const failing = await serve((_req, res) => {
      res.writeHead(200)
      res.end(
        '{"status":"pulling manifest"}\n{"error":"pull model manifest: file does not exist"}\n',
      )
    })
    await expect(
      pullModel(endpoint(failing), 'nope', { clock: systemClock }),
    ).rejects.toMatchObject({
      code: 'model_pull_failed',
      message: expect.stringContaining('file does not exist'),
    })
    const cut = await serve((_req, res) => {
      res.writeHead(200)
      res.end('{"status":"pulling manifest"}\n')
    })
    await expect(pullModel(endpoint(cut), 'm', { clock: systemClock })).rejects.toMatchObject({
      code: 'model_pull_failed',
      message: expect.stringContaining('ended before "success"'),
    })
  })
})
