// Child process: the smallest Node proxy on the same stack (node:http + undici dispatch), with no
// routing, checks, metrics or accounting. A baseline: what Node and undici cost by themselves.
import { createServer } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { Agent } from 'undici'
import { serveStats } from './process-stats.js'

const upstream = process.argv[2] as string
const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 })
const server = createServer((req, res) => {
  const headers: IncomingHttpHeaders = { ...req.headers }
  delete headers.host
  agent.dispatch(
    {
      origin: upstream,
      path: req.url ?? '/',
      method: req.method ?? 'GET',
      headers,
      body: req.headers['content-length'] ? req : null,
    },
    {
      onRequestStart() {},
      onResponseStart(_c, status, h) {
        delete h.connection
        delete h['keep-alive']
        delete h['transfer-encoding']
        res.writeHead(status, h)
      },
      onResponseData(_c, chunk) {
        res.write(chunk)
      },
      onResponseEnd() {
        res.end()
      },
      onResponseError(_c, err) {
        res.destroy(err)
      },
    },
  )
})
server.listen(0, '127.0.0.1', () => {
  serveStats()
  process.send?.({ port: (server.address() as { port: number }).port })
})
process.on('disconnect', () => process.exit(0))
