import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import net from 'node:net'
import type { Socket } from 'node:net'
import { parse } from 'yaml'
import { VM_PATHS } from '../../../src/recipe/constants.js'
import { decodeUserData } from '../../../src/recipe/user-data.js'
import type { BootPhase } from '../../../src/recipe/index.js'
import type { InstanceEvent, Simulator } from '../../../src/simulator/index.js'

/**
 * A stand-in for the emulated VM (until the simulator boots VMs itself): when an instance the
 * simulator made starts running, an HTTPS server comes up on the instance's loopback IP with
 * the certificate, key and instance key from ITS user-data, answering what nginx + the boot
 * script + Ollama answer: /exollama/boot (503 "booting" before the first write, then phases),
 * /api/version, /api/tags and a streaming /api/pull. Everything but the key check and TLS is
 * scripted per test.
 */

export type BootOutcome = 'ready' | 'never' | { failAt: BootPhase; error: string }

export interface FakeVmBehavior {
  /** Real milliseconds between "running" and listening (connection refused meanwhile). */
  listenDelayMs: number
  /** 503 {"error":"booting"} answers before the first boot status. */
  bootingAnswers: number
  /** Boot statuses served one per poll before the outcome. */
  steps: { phase: BootPhase; percent: number }[]
  outcome: BootOutcome
  version: string
  /** `/api/pull`: normal (a few progress lines), `hang` after the first line, or an error line. */
  pull: 'ok' | 'hang' | { error: string }
  /** Serve this TLS pair instead of the one in the user-data (an impostor at the address). */
  tls?: { certPem: string; keyPem: string }
}

export const DEFAULT_BEHAVIOR: FakeVmBehavior = {
  listenDelayMs: 0,
  bootingAnswers: 1,
  steps: [
    { phase: 'packages', percent: 10 },
    { phase: 'docker', percent: 25 },
    { phase: 'image-pull', percent: 55 },
    { phase: 'health', percent: 90 },
  ],
  outcome: 'ready',
  version: '0.32.15',
  pull: 'ok',
}

export interface SeenRequest {
  instanceId: string
  method: string
  path: string
  keyOk: boolean
  body: string
}

export interface FakeVm {
  instanceId: string
  ip: string
  ollamaKey: string
  certPem: string
  keyPem: string
  nginxConf: string
  cloudConfig: string
  /** Boot-status polls answered so far. */
  bootPolls: number
  listening: boolean
}

export interface FakeVms {
  /** The port every fake VM listens on (on its own loopback IP). */
  readonly port: number
  /** Resolver for the provisioner's `instanceOrigin`. */
  origin(ip: string): string
  readonly vms: Map<string, FakeVm>
  readonly requests: SeenRequest[]
  /** Behaviour for VMs that start from now on (merged over the defaults). */
  behave(next: Partial<FakeVmBehavior>): void
  /** Resolves once `predicate` holds (checked on every request). */
  waitFor(predicate: () => boolean): Promise<void>
  close(): Promise<void>
}

function keyFromNginx(conf: string): string {
  const m = /"~\^([A-Za-z0-9_-]+)\$" 1;/.exec(conf)
  if (!m?.[1]) throw new Error('fake VM: no key in the nginx config')
  return m[1]
}

function fileOf(doc: { write_files?: { path: string; content: string }[] }, path: string): string {
  const file = (doc.write_files ?? []).find((f) => f.path === path)
  if (!file) throw new Error(`fake VM: user-data writes no ${path}`)
  return file.content
}

/** A port that is free on the simulator's first loopback address right now. */
async function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      )
    })
  })
}

export async function startFakeVms(
  sim: Simulator,
  initial: Partial<FakeVmBehavior> = {},
): Promise<FakeVms> {
  const port = await freePortOn('127.10.0.1')
  let behavior: FakeVmBehavior = { ...DEFAULT_BEHAVIOR, ...initial }
  const vms = new Map<string, FakeVm>()
  const servers = new Map<string, { server: Server; sockets: Set<Socket> }>()
  const timers = new Set<NodeJS.Timeout>()
  const requests: SeenRequest[] = []
  const waiters: { predicate: () => boolean; resolve: () => void }[] = []
  const behaviorOf = new Map<string, FakeVmBehavior>()
  const poke = () => {
    for (const w of [...waiters]) {
      if (w.predicate()) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }

  function handler(vm: FakeVm, b: FakeVmBehavior) {
    return (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const path = (req.url ?? '').split('?')[0] ?? ''
        const header = req.headers['x-ollama-key']
        const bearer = /^Bearer +(.+)$/i.exec(req.headers.authorization ?? '')?.[1]
        const keyOk = header === vm.ollamaKey || bearer === vm.ollamaKey
        requests.push({
          instanceId: vm.instanceId,
          method: req.method ?? '',
          path,
          keyOk,
          body: Buffer.concat(chunks).toString('utf8'),
        })
        const json = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(value))
        }
        try {
          if (!keyOk) return json(401, { error: 'unauthorized' })
          if (path === '/exollama/boot') {
            const n = vm.bootPolls++
            if (n < b.bootingAnswers) return json(503, { error: 'booting' })
            const i = n - b.bootingAnswers
            const step = b.steps[i]
            const status = (state: string, phase: string, percent: number, error: string | null) =>
              json(200, { state, phase, percent, error, updated_at: 1767225600 + n, gpu: false })
            if (step) return status('running', step.phase, step.percent, null)
            const last = b.steps[b.steps.length - 1]
            if (b.outcome === 'ready') return status('ready', 'ready', 100, null)
            if (b.outcome === 'never') {
              return status('running', last?.phase ?? 'booting', last?.percent ?? 5, null)
            }
            return status('failed', b.outcome.failAt, last?.percent ?? 5, b.outcome.error)
          }
          if (path === '/api/version') return json(200, { version: b.version })
          if (path === '/api/tags') {
            return json(200, {
              models: [{ name: 'qwen2.5:0.5b', model: 'qwen2.5:0.5b', size: 397821319 }],
            })
          }
          if (path === '/api/pull' && req.method === 'POST') {
            const model = (
              JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
                model?: string
              }
            ).model
            res.writeHead(200, { 'content-type': 'application/x-ndjson' })
            res.write(`${JSON.stringify({ status: 'pulling manifest' })}\n`)
            if (b.pull === 'hang') return // until the client goes away
            if (typeof b.pull === 'object') {
              return void res.end(`${JSON.stringify({ error: b.pull.error })}\n`)
            }
            res.write(
              `${JSON.stringify({ status: `pulling ${model}`, digest: 'sha256:abc', total: 1000, completed: 400 })}\n`,
            )
            res.write(
              `${JSON.stringify({ status: `pulling ${model}`, digest: 'sha256:abc', total: 1000, completed: 1000 })}\n`,
            )
            return void res.end(`${JSON.stringify({ status: 'success' })}\n`)
          }
          json(404, { error: `fake VM: no route ${path}` })
        } finally {
          poke()
        }
      })
    }
  }

  async function listen(vm: FakeVm): Promise<void> {
    if (servers.has(vm.instanceId)) return
    const b = behaviorOf.get(vm.instanceId) ?? behavior
    const server = createServer(
      { cert: b.tls?.certPem ?? vm.certPem, key: b.tls?.keyPem ?? vm.keyPem },
      handler(vm, b),
    )
    const sockets = new Set<Socket>()
    server.on('connection', (s: Socket) => {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    })
    servers.set(vm.instanceId, { server, sockets })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, vm.ip, () => resolve())
    })
    vm.listening = true
    poke()
  }

  async function unlisten(id: string): Promise<void> {
    const entry = servers.get(id)
    if (!entry) return
    servers.delete(id)
    const vm = vms.get(id)
    if (vm) vm.listening = false
    for (const s of entry.sockets) s.destroy()
    await new Promise<void>((resolve) => entry.server.close(() => resolve()))
  }

  const onEvent = (event: InstanceEvent) => {
    const view = event.instance
    if (event.type === 'created' && view.userData && view.publicIp) {
      const cloudConfig = decodeUserData(view.userData)
      const doc = parse(cloudConfig, { version: '1.1' }) as {
        write_files?: { path: string; content: string }[]
      }
      const nginxConf = fileOf(doc, VM_PATHS.nginxConf)
      vms.set(view.id, {
        instanceId: view.id,
        ip: view.publicIp,
        ollamaKey: keyFromNginx(nginxConf),
        certPem: fileOf(doc, VM_PATHS.tlsCert),
        keyPem: fileOf(doc, VM_PATHS.tlsKey),
        nginxConf,
        cloudConfig,
        bootPolls: 0,
        listening: false,
      })
      behaviorOf.set(view.id, behavior)
    }
    const vm = vms.get(view.id)
    if (!vm) return
    if (event.type === 'state' && view.state === 'running') {
      const delay = (behaviorOf.get(view.id) ?? behavior).listenDelayMs
      const timer = setTimeout(() => {
        timers.delete(timer)
        void listen(vm)
      }, delay)
      timers.add(timer)
    } else if (event.type === 'removed' || (event.type === 'state' && view.state !== 'running')) {
      // Powered off or gone: it boots again from scratch when started.
      vm.bootPolls = 0
      void unlisten(view.id)
    }
  }
  const unsubscribe = sim.onInstanceEvent(onEvent)

  return {
    port,
    origin: (ip) => `https://${ip}:${port}`,
    vms,
    requests,
    behave(next) {
      behavior = { ...behavior, ...next }
    },
    waitFor(predicate) {
      if (predicate()) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ predicate, resolve }))
    },
    async close() {
      unsubscribe()
      for (const t of timers) clearTimeout(t)
      await Promise.all([...servers.keys()].map(unlisten))
    },
  }
}
