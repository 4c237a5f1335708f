import { request as httpRequest } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/index.js'
import { FakeOllama } from './fake-ollama.js'

async function call(fake: FakeOllama, method: string, path: string, body?: unknown) {
  const res = await fetch(fake.url + path, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
const events = (text: string) =>
  text
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''))

describe('FakeOllama wire formats', () => {
  let fake: FakeOllama
  const clock = new ManualClock(Date.UTC(2026, 0, 1))
  beforeAll(async () => {
    fake = await new FakeOllama({ clock }).start()
  })
  afterAll(() => fake.close())
  afterEach(() => fake.reset())

  it('/ and /api/version', async () => {
    expect(await call(fake, 'GET', '/')).toMatchObject({ status: 200, text: 'Ollama is running' })
    expect(await call(fake, 'HEAD', '/')).toMatchObject({ status: 200, text: '' })
    expect(JSON.parse((await call(fake, 'GET', '/api/version')).text)).toEqual({
      version: '0.12.6',
    })
  })

  it('/api/generate streams NDJSON ending in done:true with metrics; stream:false is one object', async () => {
    const res = await call(fake, 'POST', '/api/generate', { model: 'anything:1b', prompt: 'why?' })
    expect(res.type).toBe('application/x-ndjson')
    const chunks = lines(res.text)
    expect(chunks).toHaveLength(6)
    expect(
      chunks
        .slice(0, 5)
        .every((c) => c.done === false && typeof c.response === 'string' && c.response !== ''),
    ).toBe(true)
    expect(chunks[5]).toMatchObject({
      model: 'anything:1b',
      created_at: '2026-01-01T00:00:00.000Z',
      response: '',
      done: true,
      done_reason: 'stop',
      prompt_eval_count: 1,
      eval_count: 5,
      total_duration: expect.any(Number),
      eval_duration: expect.any(Number),
    })
    const single = await call(fake, 'POST', '/api/generate', {
      model: 'anything:1b',
      prompt: 'why?',
      stream: false,
    })
    expect(single.type).toBe('application/json; charset=utf-8')
    const answer = JSON.parse(single.text) as Record<string, unknown>
    expect(answer).toMatchObject({ done: true, eval_count: 5 })
    expect(answer.response).toBe(
      chunks
        .slice(0, 5)
        .map((c) => c.response)
        .join(''),
    )
  })

  it('/api/chat streams message chunks; an empty prompt loads the model; num_predict limits tokens', async () => {
    const chat = lines(
      (
        await call(fake, 'POST', '/api/chat', {
          model: 'qwen2.5:0.5b',
          messages: [{ role: 'user', content: 'hi' }],
          options: { num_predict: 2 },
        })
      ).text,
    )
    expect(chat).toHaveLength(3)
    expect(chat[0]).toMatchObject({
      message: { role: 'assistant', content: expect.stringMatching(/\S/) },
      done: false,
    })
    expect(chat[2]).toMatchObject({
      done: true,
      done_reason: 'stop',
      eval_count: 2,
      message: { role: 'assistant', content: '' },
    })
    expect(
      JSON.parse((await call(fake, 'POST', '/api/generate', { model: 'llama3.2:1b' })).text),
    ).toMatchObject({ done: true, done_reason: 'load', response: '' })
    const ps = JSON.parse((await call(fake, 'GET', '/api/ps')).text) as {
      models: Array<{ name: string }>
    }
    expect(ps.models.map((m) => m.name).sort()).toEqual(['llama3.2:1b', 'qwen2.5:0.5b'])
  })

  it('/api/tags, /api/show, /api/embed, /api/embeddings', async () => {
    const tags = JSON.parse((await call(fake, 'GET', '/api/tags')).text) as {
      models: Array<Record<string, unknown>>
    }
    expect(tags.models[0]).toMatchObject({
      name: 'qwen2.5:0.5b',
      model: 'qwen2.5:0.5b',
      digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      details: { format: 'gguf' },
    })
    expect(
      JSON.parse((await call(fake, 'POST', '/api/show', { model: 'qwen2.5:0.5b' })).text),
    ).toMatchObject({ modelfile: expect.any(String), capabilities: ['completion'] })
    const embed = JSON.parse(
      (await call(fake, 'POST', '/api/embed', { model: 'e', input: ['a', 'b'] })).text,
    ) as { embeddings: number[][] }
    expect(embed.embeddings).toHaveLength(2)
    expect(embed.embeddings[0]).not.toEqual(embed.embeddings[1])
    expect(
      JSON.parse((await call(fake, 'POST', '/api/embeddings', { model: 'e', prompt: 'a' })).text),
    ).toEqual({ embedding: embed.embeddings[0] })
  })

  it('/api/pull streams progress lines ending in success, and adds the model', async () => {
    const progress = lines((await call(fake, 'POST', '/api/pull', { model: 'phi3:mini' })).text)
    expect(progress[0]).toEqual({ status: 'pulling manifest' })
    expect(progress[1]).toMatchObject({
      digest: expect.stringMatching(/^sha256:/),
      total: expect.any(Number),
      completed: expect.any(Number),
    })
    expect(progress.at(-1)).toEqual({ status: 'success' })
    expect((await call(fake, 'GET', '/api/tags')).text).toContain('phi3:mini')
  })

  it('/v1/chat/completions: SSE chunks, usage on request, then data: [DONE]; JSON when not streaming', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi there' }] }
    const res = await call(fake, 'POST', '/v1/chat/completions', {
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    })
    expect(res.type).toBe('text/event-stream')
    const ev = events(res.text)
    expect(ev.at(-1)).toBe('[DONE]')
    const parsed = ev.slice(0, -1).map((e) => JSON.parse(e) as Record<string, unknown>)
    expect(parsed[0]).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'm',
      choices: [{ delta: { role: 'assistant' }, finish_reason: null }],
    })
    expect(parsed.at(-2)).toMatchObject({ choices: [{ finish_reason: 'stop' }] })
    expect(parsed.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 },
    })
    const single = JSON.parse(
      (await call(fake, 'POST', '/v1/chat/completions', body)).text,
    ) as Record<string, unknown>
    expect(single).toMatchObject({
      object: 'chat.completion',
      choices: [
        {
          message: { role: 'assistant', content: expect.stringMatching(/\S/) },
          finish_reason: 'stop',
        },
      ],
      usage: { completion_tokens: 5 },
    })
  })

  it('/v1/completions, /v1/embeddings (float and base64), /v1/models', async () => {
    expect(
      JSON.parse((await call(fake, 'POST', '/v1/completions', { model: 'm', prompt: 'p' })).text),
    ).toMatchObject({ object: 'text_completion', choices: [{ text: expect.stringMatching(/\S/) }] })
    const floats = JSON.parse(
      (await call(fake, 'POST', '/v1/embeddings', { model: 'e', input: 'a' })).text,
    ) as { data: Array<{ embedding: number[] }> }
    const b64 = JSON.parse(
      (
        await call(fake, 'POST', '/v1/embeddings', {
          model: 'e',
          input: 'a',
          encoding_format: 'base64',
        })
      ).text,
    ) as { data: Array<{ embedding: string }> }
    const decoded = Array.from(
      new Float32Array(Uint8Array.from(Buffer.from(b64.data[0]?.embedding ?? '', 'base64')).buffer),
    )
    decoded.forEach((v, i) => expect(v).toBeCloseTo(floats.data[0]?.embedding[i] ?? NaN, 5))
    expect(JSON.parse((await call(fake, 'GET', '/v1/models')).text)).toMatchObject({
      object: 'list',
      data: [{ id: 'qwen2.5:0.5b', object: 'model' }, {}, {}],
    })
  })

  it('errors in both shapes; unknown paths 404 like gin', async () => {
    fake.set({ strictModels: true })
    expect(
      await call(fake, 'POST', '/api/chat', {
        model: 'nope',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).toMatchObject({
      status: 404,
      text: '{"error":"model \\"nope\\" not found, try pulling it first"}',
    })
    expect(
      JSON.parse(
        (await call(fake, 'POST', '/v1/chat/completions', { model: 'nope', messages: [] })).text,
      ),
    ).toMatchObject({ error: { type: 'not_found_error' } })
    expect(await call(fake, 'POST', '/api/generate', { prompt: 'x' })).toMatchObject({
      status: 400,
      text: '{"error":"model is required"}',
    })
    expect(await call(fake, 'GET', '/api/nope')).toMatchObject({
      status: 404,
      text: '404 page not found',
    })
  })

  it('records requests: method, raw target, headers, body', async () => {
    await call(fake, 'POST', '/api/generate?x=1', { model: 'm', prompt: 'p', stream: false })
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      url: '/api/generate?x=1',
      body: '{"model":"m","prompt":"p","stream":false}',
      bodyComplete: true,
      finished: true,
      aborted: false,
    })
    expect(fake.requests[0]?.headers['content-type']).toBe('application/json')
  })
})

describe('FakeOllama knobs', () => {
  let fake: FakeOllama
  const clock = new ManualClock()
  beforeAll(async () => {
    fake = await new FakeOllama({ clock }).start()
  })
  afterAll(() => fake.close())
  afterEach(() => fake.reset())

  it('failBeforeHeaders: reset cuts the connection, a status answers Ollama’s error body', async () => {
    fake.set({ failBeforeHeaders: 'reset' })
    await expect(fetch(`${fake.url}/api/tags`)).rejects.toThrow()
    fake.set({ failBeforeHeaders: 503 })
    expect(await call(fake, 'GET', '/api/tags')).toMatchObject({
      status: 503,
      text: '{"error":"fake upstream failure"}',
    })
  })

  it('failAfterChunks ends the stream without the final chunk', async () => {
    fake.set({ failAfterChunks: 2 })
    const res = await fetch(`${fake.url}/api/generate`, {
      method: 'POST',
      body: '{"model":"m","prompt":"p"}',
    })
    await expect(res.text()).rejects.toThrow()
  })

  it('chunk delays follow the clock; hang + abort is recorded', async () => {
    fake.set({ chunks: 2, chunkDelayMs: 1000 })
    const res = await fetch(`${fake.url}/api/generate`, {
      method: 'POST',
      body: '{"model":"m","prompt":"p"}',
    })
    const reader = res.body?.getReader()
    const first = await reader?.read()
    expect(new TextDecoder().decode(first?.value)).toContain('"done":false')
    expect(clock.pendingCount).toBe(1)
    await clock.advance(1000)
    await clock.advance(1000)
    let rest = ''
    for (let r = await reader?.read(); r && !r.done; r = await reader?.read())
      rest += new TextDecoder().decode(r.value)
    expect(rest).toContain('"done":true')
    // Each chunk is stamped when it is sent: one delay apart, nothing left waiting afterwards.
    const stamps = lines(rest).map((l) => Date.parse(l.created_at as string))
    expect(stamps[1]! - stamps[0]!).toBe(1000)
    expect(clock.pendingCount).toBe(0)

    fake.set({ hangBeforeHeadersMs: Infinity })
    const aborted = fake.nextAbort()
    const req = httpRequest({ host: '127.0.0.1', port: fake.port, path: '/api/tags', agent: false })
    req.on('error', () => {})
    req.end()
    await new Promise<void>((resolve) => fake.events.once('request', () => resolve()))
    req.destroy()
    expect((await aborted).url).toBe('/api/tags')
  })

  it('slowBody writes in slices on the clock; large token padding makes big chunks', async () => {
    fake.set({ slowBody: { sliceBytes: 5, delayMs: 10 } })
    const pending = call(fake, 'GET', '/api/version')
    for (let i = 0; i < 10; i++) await clock.advance(10)
    expect(JSON.parse((await pending).text)).toEqual({ version: '0.12.6' })
    fake.set({ slowBody: undefined, tokenBytes: 4096, chunks: 3 })
    const big = lines((await call(fake, 'POST', '/api/generate', { model: 'm', prompt: 'p' })).text)
    expect((big[0]?.response as string).length).toBe(4096)
  })
})
