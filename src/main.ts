#!/usr/bin/env node
import { run } from './cli/index.js'

const controller = new AbortController()
let signals = 0
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    signals++
    // The first signal asks the command to finish cleanly; a second one means "now".
    if (signals > 1) process.exit(130)
    controller.abort(new Error(`received ${signal}`))
  })
}

// `exollama logs | head` closes stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })
}

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  shutdownSignal: controller.signal,
})

// Let buffered output reach pipes (asynchronous on some platforms) before exiting; exiting also
// ends idle keep-alive sockets at once.
const drained = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => {
    stream.write('', () => resolve())
  })
await Promise.all([drained(process.stdout), drained(process.stderr)])
process.exit(code)
