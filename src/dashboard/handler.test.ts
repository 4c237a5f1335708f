import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDashboardHandler } from './handler.js'

let server: Server
let base: string

beforeAll(async () => {
  const handler = createDashboardHandler()
  server = createServer((req, res) => void handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('dashboard handler', () => {
  it('serves the page with a strict content security policy', async () => {
    const res = await fetch(`${base}/ui/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    const html = await res.text()
    expect(html).toContain('<script type="module" src="app.js"></script>')
    expect(html).not.toMatch(/<script>(?!<)/)
  })

  it('serves the script and the stylesheet with their types', async () => {
    const js = await fetch(`${base}/ui/app.js`)
    expect(js.headers.get('content-type')).toMatch(/text\/javascript/)
    expect(await js.text()).toContain('/exollama/v1')
    const css = await fetch(`${base}/ui/style.css`)
    expect(css.headers.get('content-type')).toMatch(/text\/css/)
  })

  it('redirects /ui to /ui/ and refuses anything else', async () => {
    const res = await fetch(`${base}/ui`, { redirect: 'manual' })
    expect(res.status).toBe(308)
    expect(res.headers.get('location')).toBe('/ui/')
    for (const path of [
      '/ui/../package.json',
      '/ui/handler.ts',
      '/ui/static/app.js',
      '/ui/%2e%2e/x',
    ]) {
      const r = await fetch(`${base}${path}`)
      expect(r.status, path).toBe(404)
    }
    const post = await fetch(`${base}/ui/`, { method: 'POST' })
    expect(post.status).toBe(405)
  })
})
