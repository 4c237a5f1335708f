#!/usr/bin/env node
import { run } from './cli/run.js'

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`received ${signal}`)))
}

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  shutdownSignal: controller.signal,
})
// Commands close what they opened; exiting here also ends idle keep-alive sockets at once.
// (stdout and stderr writes are synchronous on Linux for files, pipes and terminals.)
process.exit(code)
