import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A small stand-in for Ollama behind the recipe's nginx (the recipe tests' own; the product's
 * fake Ollama lives elsewhere). It records what arrives and lets a test pace a stream.
 */
export interface SeenRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  bodyBytes: number
  bodySha256: string
}

/** Called before each NDJSON line after the first; the line is written when it resolves. */
export type StreamGate = (index: number) => Promise<void>

export interface FakeOllama {
  port: number
  requests: SeenRequest[]
  /** Paces the next /api/chat stream (reset after it ends). */
  gateNextStream(gate: StreamGate): void
  close(): Promise<void>
}

function chatChunk(model: string, content: string, done: boolean): string {
  const base = {
    model,
    created_at: '2026-01-01T00:00:00Z',
    message: { role: 'assistant', content },
    done,
  }
  return JSON.stringify(
    done
      ? { ...base, done_reason: 'stop', total_duration: 1, eval_count: 3, eval_duration: 1 }
      : base,
  )
}

export async function startFakeOllama(): Promise<FakeOllama> {
  const requests: SeenRequest[] = []
  let gate: StreamGate | undefined

  const server = http.createServer((req, res) => {
    const hash = createHash('sha256')
    let bytes = 0
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.length
      if (bytes <= 1_000_000) chunks.push(chunk)
    })
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      }
      requests.push(seen)
      void respond(req, res, seen, Buffer.concat(chunks).toString('utf8'))
    })
  })

  async function respond(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    seen: SeenRequest,
    body: string,
  ): Promise<void> {
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(value))
    }
    const path = (req.url ?? '').split('?')[0]
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
      return void res.end('Ollama is running')
    }
    if (path === '/api/version') return json(200, { version: '0.32.15' })
    if (path === '/api/tags') return json(200, { models: [] })
    if (path === '/api/echo') return json(200, seen)
    if (path === '/api/chat') {
      const request = JSON.parse(body || '{}') as { model?: string; stream?: boolean }
      const model = request.model ?? 'test-model'
      const words = ['Hello', ' from', ' the', ' fake']
      if (request.stream === false) {
        return json(200, JSON.parse(chatChunk(model, words.join(''), true)) as unknown)
      }
      const pace = gate
      gate = undefined
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' })
      for (let i = 0; i < words.length; i++) {
        if (i > 0 && pace) await pace(i)
        res.write(chatChunk(model, words[i]!, false) + '\n')
      }
      if (pace) await pace(words.length)
      return void res.end(chatChunk(model, '', true) + '\n')
    }
    json(404, { error: `fake ollama: no route ${path}` })
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    gateNextStream: (g) => {
      gate = g
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
