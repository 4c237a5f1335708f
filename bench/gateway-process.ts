// Child process: the gateway (StaticBackend → the upstream), reporting its memory and CPU on request.
import { createGateway } from '../src/gateway/gateway.js'
import { StaticBackend } from '../src/gateway/static-backend.js'
import { serveStats } from './process-stats.js'

const upstream = process.argv[2] as string
const backend = new StaticBackend({ url: upstream })
const gateway = createGateway({ backend, processMetrics: false })
const address = await gateway.listen('127.0.0.1', 0)
const stop = serveStats()
process.send?.({ port: address.port })
process.on('disconnect', () => {
  stop()
  void gateway.close({ deadlineMs: 0 }).finally(() => process.exit(0))
})
