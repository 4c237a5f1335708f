import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { systemTool } from '../helpers/system-deps.js'
import {
  checkNginxConfig,
  findFreePort,
  nginxMainConfig,
  relocateNginxConfig,
  startNginx,
  writeNginxPrefix,
  type NginxProcess,
} from '../../src/shared/nginx-process.js'

const nginxBin = systemTool('nginx')
const dirs: string[] = []
const running: NginxProcess[] = []

async function tempPrefix(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exollama-nginx-'))
  dirs.push(dir)
  return dir
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop(2_000)))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

describe('relocateNginxConfig', () => {
  const conf = [
    'map $http_x $y { default 0; }',
    'server {',
    '    listen 11435 ssl http2;',
    '    ssl_certificate /etc/app/tls/a.crt;',
    '    ssl_certificate_key /etc/app/tls/a.key;',
    '    location = /s { alias /var/lib/app/s.json; }',
    '    location / {',
    '        access_log /var/lib/app/activity.log fmt if=$v;',
    '        proxy_pass http://127.0.0.1:11434;',
    '        proxy_set_header Host localhost:11434;',
    '    }',
    '}',
  ].join('\n')

  it('rewrites only listen, path arguments and upstreams, and reports the changed lines', () => {
    const out = relocateNginxConfig(conf, {
      listen: { '11435': '127.0.0.1:18443' },
      paths: { '/etc/app/tls/': '/tmp/p/tls/', '/var/lib/app/': '/tmp/p/state/' },
      upstreams: { '127.0.0.1:11434': '127.0.0.1:5555' },
    })
    expect(out.changedLines).toEqual([3, 4, 5, 6, 8, 9])
    const lines = out.text.split('\n')
    expect(lines[2]).toBe('    listen 127.0.0.1:18443 ssl http2;')
    expect(lines[3]).toBe('    ssl_certificate /tmp/p/tls/a.crt;')
    expect(lines[5]).toBe('    location = /s { alias /tmp/p/state/s.json; }')
    expect(lines[7]).toBe('        access_log /tmp/p/state/activity.log fmt if=$v;')
    expect(lines[8]).toBe('        proxy_pass http://127.0.0.1:5555;')
    // The Host header names the upstream too, but it is not an address nginx connects to.
    expect(lines[9]).toBe('        proxy_set_header Host localhost:11434;')
  })

  it('leaves a config alone when nothing matches', () => {
    const out = relocateNginxConfig(conf, { listen: { '80': '127.0.0.1:1' } })
    expect(out.text).toBe(conf)
    expect(out.changedLines).toEqual([])
  })
})

describe('writeNginxPrefix', () => {
  it('refuses files outside the prefix', async () => {
    const prefix = await tempPrefix()
    await expect(
      writeNginxPrefix({
        prefix,
        mainConfig: '',
        files: [{ path: '../escape.conf', content: 'x' }],
      }),
    ).rejects.toMatchObject({ code: 'nginx_bad_prefix_file' })
  })
})

describe.skipIf(!nginxBin)('real nginx', () => {
  const binary = nginxBin ?? undefined
  const serve = (port: number) =>
    nginxMainConfig({
      http: `server { listen 127.0.0.1:${port}; location / { default_type text/plain; return 200 "hello from $server_port\\n"; } }`,
    })

  it('checks a config and reports nginx’s own error for a bad one', async () => {
    const prefix = await tempPrefix()
    const port = await findFreePort() // nginx -t binds the listen sockets too
    const ok = await checkNginxConfig({
      prefix,
      mainConfig: serve(port),
      ...(binary && { binary }),
    })
    expect(ok.warnings).toEqual([])
    await expect(
      checkNginxConfig({
        prefix,
        mainConfig: nginxMainConfig({ http: `server { listen 127.0.0.1:${port}; http2 on; }` }),
        ...(binary && { binary }),
      }),
    ).rejects.toMatchObject({
      code: 'nginx_config_invalid',
      message: expect.stringContaining('unknown directive "http2"'),
    })
  })

  it('starts nginx with files under the prefix, serves, and stops gracefully', async () => {
    const prefix = await tempPrefix()
    const port = await findFreePort()
    const nginx = await startNginx({
      prefix,
      mainConfig: nginxMainConfig({
        http: `include site.conf;`,
      }),
      files: [
        {
          path: 'site.conf',
          content: `server { listen 127.0.0.1:${port}; location = /hello { alias ${prefix}/www/index.txt; } }`,
        },
        { path: 'www/index.txt', content: 'from a prefix file\n' },
      ],
      waitFor: [{ host: '127.0.0.1', port }],
      ...(binary && { binary }),
    })
    running.push(nginx)
    expect(nginx.running).toBe(true)
    const res = await fetch(`http://127.0.0.1:${port}/hello`)
    expect(await res.text()).toBe('from a prefix file\n')
    const exit = await nginx.stop()
    expect(exit).toEqual({ code: 0, signal: null })
    expect(nginx.running).toBe(false)
    await expect(canConnect(port)).resolves.toBe(false)
  })

  it('fails clearly when the port is taken', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      await expect(
        startNginx({
          prefix: await tempPrefix(),
          mainConfig: serve(port),
          waitFor: [{ host: '127.0.0.1', port: port }],
          ...(binary && { binary }),
        }),
      ).rejects.toMatchObject({
        code: 'nginx_start_failed',
        output: expect.stringContaining('Address already in use'),
      })
    } finally {
      blocker.close()
    }
  })

  it('escalates when a request in flight blocks the graceful stop', async () => {
    let requestArrived!: () => void
    const arrived = new Promise<void>((r) => (requestArrived = r))
    const upstream = http.createServer(() => requestArrived()) // never answers
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
    const upstreamPort = (upstream.address() as net.AddressInfo).port
    const port = await findFreePort()
    const nginx = await startNginx({
      prefix: await tempPrefix(),
      mainConfig: nginxMainConfig({
        http: `server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:${upstreamPort}; } }`,
      }),
      waitFor: [{ host: '127.0.0.1', port }],
      ...(binary && { binary }),
    })
    running.push(nginx)
    const hanging = fetch(`http://127.0.0.1:${port}/slow`).catch((e: unknown) => e)
    await arrived
    const exit = await nginx.stop(300)
    expect(nginx.running).toBe(false)
    expect(exit.code ?? exit.signal).toBeDefined()
    // The graceful SIGQUIT could not finish with a request open, so stop() escalated.
    expect(nginx.output()).toContain('(SIGTERM) received')
    await hanging
    upstream.closeAllConnections()
    upstream.close()
  })
})

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
