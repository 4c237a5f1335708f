import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock, Logger } from '../shared/index.js'
import { ExollamaError } from '../shared/index.js'
import { sendError, statusForError } from './errors.js'
import type { KeyIdentity, Management, ManagementContext, ManagementEvent } from './ports.js'
import type { ManagementAction } from './routes.js'

const SETTINGS_BODY_LIMIT = 1024 * 1024

export interface ManagementRequest {
  req: IncomingMessage
  res: ServerResponse
  action: ManagementAction
  query: string
  identity: KeyIdentity | undefined
  /** Whether mutating actions need an admin key (keys are required on this listener). */
  adminRequired: boolean
}

export interface ManagementRouterOptions {
  management: Management | undefined
  clock: Clock
  logger: Logger
  heartbeatMs: number
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent || res.destroyed) return
  const body = JSON.stringify(value ?? null)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(res.req?.method === 'HEAD' ? undefined : body)
}

/** Reads a small JSON body (settings). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > SETTINGS_BODY_LIMIT) {
      throw new ExollamaError(
        'request_too_large',
        `the settings body is larger than ${SETTINGS_BODY_LIMIT} bytes`,
        {
          kind: 'usage',
        },
      )
    }
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return text.trim() === '' ? {} : (JSON.parse(text) as unknown)
  } catch (cause) {
    throw new ExollamaError('invalid_json', 'the request body is not valid JSON', {
      kind: 'usage',
      cause,
    })
  }
}

const MUTATING = new Set<string>(['start', 'stop', 'destroy'])

/**
 * `/exollama/v1/*`: dispatches to the Management port. Never activity, never wakes by itself
 * (`start` does, through the port). Errors the port throws become JSON in Ollama's shape plus a
 * stable code; an unexpected error is logged and answered as `internal_error` without details.
 */
export class ManagementRouter {
  readonly #o: ManagementRouterOptions
  /** Open event streams, ended at shutdown. */
  readonly streams = new Set<ServerResponse>()

  constructor(options: ManagementRouterOptions) {
    this.#o = options
  }

  async handle(m: ManagementRequest): Promise<void> {
    const { res, req, action } = m
    const management = this.#o.management
    if (!management) {
      sendError(
        res,
        'ollama',
        404,
        'management_unavailable',
        'this gateway has no management API (static backend)',
      )
      return
    }
    const writes = MUTATING.has(action) || (action === 'settings' && req.method === 'PUT')
    if (writes && m.adminRequired && !m.identity?.admin) {
      sendError(
        res,
        'ollama',
        403,
        'admin_key_required',
        `${action} needs an admin key on this listener`,
      )
      return
    }
    const controller = new AbortController()
    const onClose = () => controller.abort()
    res.once('close', onClose)
    const ctx: ManagementContext = {
      signal: controller.signal,
      query: new URLSearchParams(m.query),
      identity: m.identity,
    }
    try {
      switch (action) {
        case 'status':
          return sendJson(res, 200, await management.status(ctx))
        case 'start':
          return sendJson(res, 200, await management.start(ctx))
        case 'stop':
          return sendJson(res, 200, await management.stop(ctx))
        case 'destroy':
          return sendJson(res, 200, await management.destroy(ctx))
        case 'usage':
          return sendJson(res, 200, await management.usage(ctx))
        case 'settings':
          if (req.method === 'PUT')
            return sendJson(res, 200, await management.putSettings(await readJson(req), ctx))
          return sendJson(res, 200, await management.getSettings(ctx))
        case 'events':
          return await this.#events(res, management.events(ctx), controller.signal)
      }
    } catch (error) {
      if (controller.signal.aborted) return
      if (error instanceof ExollamaError) {
        sendError(res, 'ollama', statusForError(error), error.code, error.message)
      } else {
        this.#o.logger.error({ err: error, action }, 'management call failed')
        sendError(
          res,
          'ollama',
          500,
          'internal_error',
          `the ${action} call failed unexpectedly; see the gateway log`,
        )
      }
    } finally {
      res.off('close', onClose)
    }
  }

  async #events(
    res: ServerResponse,
    events: AsyncIterable<ManagementEvent>,
    signal: AbortSignal,
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    })
    res.flushHeaders()
    this.streams.add(res)
    const iterator = events[Symbol.asyncIterator]()
    const { clock, heartbeatMs } = this.#o
    let timer = clock.setTimer(heartbeatMs, function beat() {
      if (res.writableEnded || res.destroyed) return
      res.write(': ping\n\n')
      timer = clock.setTimer(heartbeatMs, beat)
    })
    const stop = () => void iterator.return?.()
    signal.addEventListener('abort', stop, { once: true })
    try {
      for (;;) {
        const next = await iterator.next()
        if (next.done || signal.aborted || res.writableEnded) break
        const event = next.value
        let frame = ''
        if (event.type) frame += `event: ${event.type.replace(/[\r\n]/g, '')}\n`
        if (event.id) frame += `id: ${event.id.replace(/[\r\n]/g, '')}\n`
        frame += `data: ${JSON.stringify(event.data ?? null)}\n\n`
        if (!res.write(frame)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done)
              res.off('close', done)
              resolve()
            }
            res.on('drain', done)
            res.on('close', done)
          })
        }
      }
    } finally {
      timer.cancel()
      signal.removeEventListener('abort', stop)
      this.streams.delete(res)
      if (!res.writableEnded) res.end()
    }
  }
}
