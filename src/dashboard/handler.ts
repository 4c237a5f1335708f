import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'

const STATIC_DIR = new URL('./static/', import.meta.url)

/** The only files the dashboard serves; anything else under /ui/ is 404. */
const FILES: Record<string, string> = {
  '': 'text/html; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}

// Everything is same-origin; no inline script or style, no framing (clickjacking on the buttons).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/**
 * Serves the dashboard at /ui/ (files are read once and kept in memory). The caller routes
 * `GET|HEAD /ui` and `/ui/*` here; `/ui` redirects to `/ui/`.
 */
export function createDashboardHandler(): DashboardHandler {
  const cache = new Map<string, Buffer>()
  const load = async (name: string): Promise<Buffer> => {
    let body = cache.get(name)
    if (!body) {
      body = await readFile(new URL(name, STATIC_DIR))
      cache.set(name, body)
    }
    return body
  }

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'method not allowed' }))
      return
    }
    if (path === '/ui') {
      res.writeHead(308, { location: '/ui/' })
      res.end()
      return
    }
    const name = path.startsWith('/ui/') ? path.slice(4) : undefined
    const type = name === undefined ? undefined : FILES[name]
    if (name === undefined || type === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'not found' }))
      return
    }
    const body = await load(name === '' ? 'index.html' : name)
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': body.length })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}
