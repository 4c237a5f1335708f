import { Ollama } from 'ollama'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/shared/index.js'
import { startStack, type Stack } from './helpers.js'

// The official clients, through the gateway and straight to the upstream: same answers.
describe('official clients through the gateway (StaticBackend → fake Ollama)', () => {
  let stack: Stack
  let viaGateway: Ollama
  let direct: Ollama
  let openaiVia: OpenAI
  let openaiDirect: OpenAI

  beforeAll(async () => {
    // A manual clock on the fake keeps created_at identical between the two calls compared.
    stack = await startStack({ fake: { clock: new ManualClock() } })
    viaGateway = new Ollama({ host: stack.url })
    direct = new Ollama({ host: stack.fake.url })
    openaiVia = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'ollama', maxRetries: 0 })
    openaiDirect = new OpenAI({ baseURL: `${stack.fake.url}/v1`, apiKey: 'ollama', maxRetries: 0 })
  })
  afterAll(() => stack.close())

  it('ollama.chat streaming yields the same chunks, ending with done and token counts', async () => {
    const request = {
      model: 'qwen2.5:0.5b',
      messages: [{ role: 'user', content: 'Why is the sky blue?' }],
    }
    const collect = async (client: Ollama) => {
      const parts = []
      for await (const part of await client.chat({ ...request, stream: true })) parts.push(part)
      return parts
    }
    const via = await collect(viaGateway)
    expect(via.length).toBeGreaterThan(2)
    expect(via.at(-1)).toMatchObject({
      done: true,
      done_reason: 'stop',
      eval_count: via.length - 1,
    })
    expect(via.map((p) => p.message.content).join('')).not.toBe('')
    expect(via).toEqual(await collect(direct))
  })

  it('ollama.generate with stream:false returns the same single answer', async () => {
    const request = { model: 'llama3.2:1b', prompt: 'Say hi', stream: false as const }
    const via = await viaGateway.generate(request)
    expect(via.done).toBe(true)
    expect(via.response).toMatch(/\S/)
    expect(via).toEqual(await direct.generate(request))
  })

  it('ollama.embed, list, show, ps and version match', async () => {
    const embed = { model: 'nomic-embed-text', input: ['a', 'b'] }
    expect(await viaGateway.embed(embed)).toEqual(await direct.embed(embed))
    expect((await viaGateway.embed(embed)).embeddings).toHaveLength(2)
    expect(await viaGateway.list()).toEqual(await direct.list())
    expect((await viaGateway.list()).models.map((m) => m.name)).toContain('qwen2.5:0.5b')
    expect(await viaGateway.show({ model: 'qwen2.5:0.5b' })).toEqual(
      await direct.show({ model: 'qwen2.5:0.5b' }),
    )
    expect(await viaGateway.ps()).toEqual(await direct.ps())
    expect(await viaGateway.version()).toEqual(await direct.version())
    expect(await viaGateway.embeddings({ model: 'nomic-embed-text', prompt: 'x' })).toEqual(
      await direct.embeddings({ model: 'nomic-embed-text', prompt: 'x' }),
    )
  })

  it('openai chat.completions streaming matches, with usage and the [DONE] end', async () => {
    const body = {
      model: 'qwen2.5:0.5b',
      messages: [{ role: 'user' as const, content: 'Tell me a story' }],
      stream: true as const,
      stream_options: { include_usage: true },
    }
    const collect = async (client: OpenAI) => {
      const chunks = []
      for await (const chunk of await client.chat.completions.create(body)) chunks.push(chunk)
      return chunks
    }
    const via = await collect(openaiVia)
    expect(via.map((c) => c.choices[0]?.delta.content ?? '').join('')).not.toBe('')
    expect(via.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0)
    expect(via).toEqual(await collect(openaiDirect))
  })

  it('openai chat.completions, completions, models and embeddings (base64) match', async () => {
    const chat = { model: 'qwen2.5:0.5b', messages: [{ role: 'user' as const, content: 'hi' }] }
    const viaChat = await openaiVia.chat.completions.create(chat)
    expect(viaChat.choices[0]?.message.content).toBeTruthy()
    expect(viaChat).toEqual(await openaiDirect.chat.completions.create(chat))

    const completion = { model: 'qwen2.5:0.5b', prompt: 'Once upon a time' }
    expect(await openaiVia.completions.create(completion)).toEqual(
      await openaiDirect.completions.create(completion),
    )

    const models = await openaiVia.models.list()
    expect(models.data.map((m) => m.id)).toContain('llama3.2:1b')
    expect(models.data).toEqual((await openaiDirect.models.list()).data)
    expect(await openaiVia.models.retrieve('qwen2.5:0.5b')).toEqual(
      await openaiDirect.models.retrieve('qwen2.5:0.5b'),
    )

    const embedding = { model: 'nomic-embed-text', input: ['one', 'two'] }
    const viaEmbedding = await openaiVia.embeddings.create(embedding)
    expect(viaEmbedding.data).toHaveLength(2)
    expect(viaEmbedding.data[0]?.embedding).toHaveLength(8)
    expect(viaEmbedding).toEqual(await openaiDirect.embeddings.create(embedding))
  })

  it('ollama-js surfaces a gateway refusal as a ResponseError with the message', async () => {
    await expect(viaGateway.pull({ model: 'qwen2.5:0.5b' })).rejects.toMatchObject({
      status_code: 403,
      error: expect.stringContaining('model administration'),
    })
  })

  it('openai surfaces a gateway 404 as an APIError with the OpenAI error shape', async () => {
    const error = await openaiVia.get('/nope').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({
      type: 'not_found_error',
      code: 'not_found',
    })
  })
})
