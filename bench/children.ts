import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ProcessStats } from './process-stats.js'

export interface Child {
  process: ChildProcess
  port: number
  stop(): Promise<void>
}

/** Starts a TypeScript child process (via tsx) that sends `{ port }` over IPC once listening. */
export async function startChild(file: string, args: string[]): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, file), ...args],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const [message] = (await once(child, 'message')) as [{ port: number }]
  return {
    process: child,
    port: message.port,
    async stop() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.disconnect()
      await exited
    },
  }
}

/** Asks a child that runs `serveStats()` for its CPU time and memory. */
export async function processStats(child: Child): Promise<ProcessStats> {
  child.process.send({ type: 'stats' })
  for (;;) {
    const [message] = (await once(child.process, 'message')) as [ProcessStats | { type?: string }]
    if (message.type === 'stats') return message as ProcessStats
  }
}

/** CPU time (µs) of a process and its children (nginx master + workers), from /proc (10 ms ticks). */
export function procCpuMicros(pid: number): number {
  const pids = [pid]
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
    if (children) pids.push(...children.split(/\s+/).map(Number))
  } catch {
    // not Linux: no figure
  }
  let ticks = 0
  for (const p of pids) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      ticks += Number(fields[11]) + Number(fields[12]) // utime, stime
    } catch {
      // gone
    }
  }
  return (ticks * 1_000_000) / 100
}

/** Debian's nginx proxying to the same upstream, one worker (the gateway is one Node thread). */
export async function startNginx(
  bin: string,
  upstreamPort: number,
  port: number,
  workers: number,
): Promise<Child> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'exollama-bench-nginx-'))
  for (const dir of ['logs', 'tmp']) mkdirSync(path.join(prefix, dir))
  const conf = path.join(prefix, 'nginx.conf')
  writeFileSync(
    conf,
    `worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  upstream ollama { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
    }
  }
}
`,
  )
  const child = spawn(bin, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  // nginx has no readiness signal: poll the port.
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/version`)
      await res.text()
      if (res.ok) break
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    process: child,
    port,
    async stop() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGQUIT')
      await exited
      rmSync(prefix, { recursive: true, force: true })
    },
  }
}
