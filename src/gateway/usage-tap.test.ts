import { describe, expect, it } from 'vitest'
import { UsageTap } from './usage-tap.js'

function tapOf(...chunks: string[]): UsageTap {
  const tap = new UsageTap()
  for (const c of chunks) tap.push(Buffer.from(c))
  return tap
}

describe('UsageTap', () => {
  it('reads Ollama NDJSON: model from the first chunk, counts from the final one', () => {
    const tap = tapOf(
      '{"model":"qwen2.5:0.5b","created_at":"x","response":"Hi","done":false}\n',
      '{"model":"qwen2.5:0.5b","response":" \\"eval_count\\":999","done":false}\n',
      `{"model":"qwen2.5:0.5b","done":true,"context":[${'1,'.repeat(20000)}1],"total_duration":5,"prompt_eval_count":26,"prompt_eval_duration":1,"eval_count":259,"eval_duration":2}\n`,
    )
    expect(tap.result()).toEqual({ model: 'qwen2.5:0.5b', promptTokens: 26, evalTokens: 259 })
  })

  it('reads OpenAI SSE usage and non-stream JSON usage', () => {
    const sse = tapOf(
      'data: {"id":"c","object":"chat.completion.chunk","model":"llama3.2:1b","choices":[]}\n\n',
      'data: {"id":"c","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n',
      'data: [DONE]\n\n',
    )
    expect(sse.result()).toEqual({ model: 'llama3.2:1b', promptTokens: 7, evalTokens: 3 })
    const embeddings = tapOf(
      `{"object":"list","data":[{"embedding":[${'0.1,'.repeat(2000)}0.1]}],`,
      '"model":"nomic","usage":{"prompt_tokens":4,"total_tokens":4}}',
    )
    expect(embeddings.result()).toEqual({ model: 'nomic', promptTokens: 4, evalTokens: null })
  })

  it('reports nulls when the answer carries nothing, and copes with split chunks and escapes', () => {
    expect(new UsageTap().result()).toEqual({ model: null, promptTokens: null, evalTokens: null })
    expect(tapOf('{"error":"nope"}').result()).toEqual({
      model: null,
      promptTokens: null,
      evalTokens: null,
    })
    expect(tapOf('{"model":"a\\"b","eval_', 'count":12}').result()).toEqual({
      model: 'a"b',
      promptTokens: null,
      evalTokens: 12,
    })
  })

  it('decodes UTF-8 model names and escaped ones', () => {
    expect(tapOf('{"model":"llama-ü:1b","eval_count":1}').result().model).toBe('llama-ü:1b')
    expect(tapOf('{"model":"a\\u00fcb","eval_count":1}').result().model).toBe('aüb')
  })

  it('keeps only a bounded tail of a long stream', () => {
    const tap = new UsageTap()
    for (let i = 0; i < 10_000; i++)
      tap.push(Buffer.from(`{"model":"m","response":"${'x'.repeat(100)}","done":false}\n`))
    tap.push(Buffer.from('{"model":"m","done":true,"prompt_eval_count":1,"eval_count":10000}\n'))
    expect(tap.result()).toEqual({ model: 'm', promptTokens: 1, evalTokens: 10000 })
  })
})
