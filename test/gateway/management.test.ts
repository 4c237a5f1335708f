import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UserError } from '../../src/shared/index.js'
import type { Management, ManagementContext, ManagementEvent } from '../../src/gateway/ports.js'
import {
  ManualClock,
  RecordingUsage,
  keyTable,
  openRequest,
  rawRequest,
  readAll,
  readLines,
  startStack,
  until,
  type Stack,
} from './helpers.js'

const STATUS = {
  state: 'absent',
  simulated: true,
  instance: null,
  idle: { timeout_s: 1800, remaining_s: null, action: 'destroy' },
  models: [],
  cost: { currency: 'CHF', session: null, month: null },
}

class FakeManagement implements Management {
  calls: Array<{ action: string; ctx: ManagementContext; body?: unknown }> = []
  eventsEnded = false
  settings: Record<string, unknown> = { EXOSCALE_IDLE_TIMEOUT: { value: 1800, locked: false } }

  status(ctx: ManagementContext) {
    this.calls.push({ action: 'status', ctx })
    return STATUS
  }
  async start(ctx: ManagementContext) {
    this.calls.push({ action: 'start', ctx })
    return { ...STATUS, state: 'provisioning' }
  }
  async stop(ctx: ManagementContext) {
    this.calls.push({ action: 'stop', ctx })
    return { ...STATUS, state: 'stopping' }
  }
  async destroy(ctx: ManagementContext) {
    this.calls.push({ action: 'destroy', ctx })
    throw new Error('boom: secret-internal-detail')
  }
  async *events(ctx: ManagementContext): AsyncIterable<ManagementEvent> {
    this.calls.push({ action: 'events', ctx })
    try {
      yield { type: 'status', data: STATUS }
      yield { type: 'lifecycle', id: '2', data: { phase: 'creating' } }
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    } finally {
      this.eventsEnded = true
    }
  }
  getSettings(ctx: ManagementContext) {
    this.calls.push({ action: 'settings', ctx })
    return this.settings
  }
  putSettings(body: unknown, ctx: ManagementContext) {
    this.calls.push({ action: 'put', ctx, body })
    const value = (body as Record<string, unknown>).EXOSCALE_IDLE_TIMEOUT
    if (typeof value !== 'number') {
      throw new UserError(
        'invalid_setting',
        'EXOSCALE_IDLE_TIMEOUT must be an integer number of seconds',
      )
    }
    this.settings = { EXOSCALE_IDLE_TIMEOUT: { value, locked: false } }
    return this.settings
  }
  usage(ctx: ManagementContext) {
    this.calls.push({ action: 'usage', ctx })
    return { month: { cost: 1.5, hours: 2 } }
  }
}

describe('management routes', () => {
  let stack: Stack
  let management: FakeManagement
  const dashboardPaths: string[] = []

  beforeAll(async () => {
    management = new FakeManagement()
    stack = await startStack({
      management,
      dashboard: (req, res) => {
        dashboardPaths.push(req.url ?? '')
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<title>exollama</title>')
      },
    })
  })
  afterAll(() => stack.close())

  it('GET /exollama/v1/status answers the port’s status object, and is not activity', async () => {
    const res = await rawRequest({ port: stack.port, path: '/exollama/v1/status' })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual(STATUS)
    expect(stack.backend.activity.inFlight).toBe(0)
    expect(stack.fake.requests).toHaveLength(0)
  })

  it('POST start/stop call the port; GET on them is 405', async () => {
    expect(
      JSON.parse(
        (await rawRequest({ port: stack.port, method: 'POST', path: '/exollama/v1/start' })).body,
      ),
    ).toMatchObject({ state: 'provisioning' })
    expect(
      JSON.parse(
        (await rawRequest({ port: stack.port, method: 'POST', path: '/exollama/v1/stop?force=1' }))
          .body,
      ),
    ).toMatchObject({ state: 'stopping' })
    expect(management.calls.at(-1)?.ctx.query.get('force')).toBe('1')
    expect((await rawRequest({ port: stack.port, path: '/exollama/v1/start' })).status).toBe(405)
  })

  it('an unexpected port error is a 500 without its details', async () => {
    const res = await rawRequest({ port: stack.port, method: 'POST', path: '/exollama/v1/destroy' })
    expect(res.status).toBe(500)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'internal_error' })
    expect(res.body).not.toContain('secret-internal-detail')
  })

  it('settings: GET, PUT with JSON, a rejected value is 400 with its code, bad JSON is 400', async () => {
    expect(
      JSON.parse((await rawRequest({ port: stack.port, path: '/exollama/v1/settings' })).body),
    ).toEqual(management.settings)
    const ok = await rawRequest({
      port: stack.port,
      method: 'PUT',
      path: '/exollama/v1/settings',
      body: '{"EXOSCALE_IDLE_TIMEOUT":600}',
    })
    expect(ok.status).toBe(200)
    expect(management.calls.at(-1)?.body).toEqual({ EXOSCALE_IDLE_TIMEOUT: 600 })
    const rejected = await rawRequest({
      port: stack.port,
      method: 'PUT',
      path: '/exollama/v1/settings',
      body: '{"EXOSCALE_IDLE_TIMEOUT":"banana"}',
    })
    expect(rejected.status).toBe(400)
    expect(JSON.parse(rejected.body)).toMatchObject({
      code: 'invalid_setting',
      error: expect.stringContaining('integer number of seconds'),
    })
    const bad = await rawRequest({
      port: stack.port,
      method: 'PUT',
      path: '/exollama/v1/settings',
      body: '{nope',
    })
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.body)).toMatchObject({ code: 'invalid_json' })
  })

  it('usage answers the port’s report', async () => {
    expect(
      JSON.parse((await rawRequest({ port: stack.port, path: '/exollama/v1/usage' })).body),
    ).toEqual({ month: { cost: 1.5, hours: 2 } })
  })

  it('events stream as SSE; a client that leaves ends the port’s iteration', async () => {
    const { res, abort } = await openRequest({ port: stack.port, path: '/exollama/v1/events' })
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
    const lines = await readLines(res, 5)
    expect(lines).toEqual([
      'event: status',
      `data: ${JSON.stringify(STATUS)}`,
      'event: lifecycle',
      'id: 2',
      'data: {"phase":"creating"}',
    ])
    abort()
    await until(() => management.eventsEnded, 'the event iteration to end')
  })

  it('a browser asking / for HTML goes to /ui/; /ui/* is the dashboard’s', async () => {
    const browser = await rawRequest({
      port: stack.port,
      path: '/',
      headers: { accept: 'text/html,application/xhtml+xml' },
    })
    expect(browser.status).toBe(302)
    expect(browser.headers.location).toBe('/ui/')
    expect((await rawRequest({ port: stack.port, path: '/' })).body).toBe('Ollama is running')
    const ui = await rawRequest({ port: stack.port, path: '/ui/app.js?v=1' })
    expect(ui.status).toBe(200)
    expect(dashboardPaths).toContain('/ui/app.js?v=1')
  })
})

describe('management without ports, and with keys', () => {
  it('no management port: 404 management_unavailable; no dashboard: / stays "Ollama is running"', async () => {
    const stack = await startStack()
    try {
      const res = await rawRequest({ port: stack.port, path: '/exollama/v1/status' })
      expect(res.status).toBe(404)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'management_unavailable' })
      expect(
        (await rawRequest({ port: stack.port, path: '/', headers: { accept: 'text/html' } })).body,
      ).toBe('Ollama is running')
      expect((await rawRequest({ port: stack.port, path: '/ui/' })).status).toBe(404)
    } finally {
      await stack.close()
    }
  })

  it('when keys are required, lifecycle actions need an admin key', async () => {
    const management = new FakeManagement()
    const stack = await startStack({
      management,
      options: { requireKeys: true },
      keys: keyTable({
        'user-key-1234567890': { id: 'u', name: 'user', admin: false },
        'admin-key-1234567890': { id: 'a', name: 'admin', admin: true },
      }),
    })
    try {
      const as = (key: string, method: string, path: string) =>
        rawRequest({ port: stack.port, method, path, headers: { 'x-ollama-key': key } })
      expect((await rawRequest({ port: stack.port, path: '/exollama/v1/status' })).status).toBe(401)
      expect((await as('user-key-1234567890', 'GET', '/exollama/v1/status')).status).toBe(200)
      const refused = await as('user-key-1234567890', 'POST', '/exollama/v1/start')
      expect(refused.status).toBe(403)
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'admin_key_required' })
      expect((await as('admin-key-1234567890', 'POST', '/exollama/v1/start')).status).toBe(200)
      expect(management.calls.at(-1)?.ctx.identity).toEqual({ id: 'a', name: 'admin', admin: true })
    } finally {
      await stack.close()
    }
  })
})

describe('metrics and usage', () => {
  it('exposes Prometheus text and records per-request usage without buffering', async () => {
    const usage = new RecordingUsage()
    const clock = new ManualClock()
    const stack = await startStack({
      usage,
      clock,
      keys: keyTable({ 'usage-key-1234567890': { id: 'key-7', name: 'ci', admin: false } }),
    })
    try {
      const auth = { authorization: 'Bearer usage-key-1234567890' }
      await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/chat',
        headers: auth,
        body: '{"model":"qwen2.5:0.5b","messages":[{"role":"user","content":"one two three"}]}',
      })
      await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"llama3.2:1b","prompt":"a b","stream":false,"options":{"num_predict":2}}',
      })
      await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/v1/chat/completions',
        body: '{"model":"qwen2.5:0.5b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x y"}]}',
      })
      await rawRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/embed',
        body: '{"model":"nomic-embed-text","input":["a b c"]}',
      })
      await rawRequest({ port: stack.port, path: '/api/tags' })
      expect(usage.records).toEqual([
        {
          keyId: 'key-7',
          route: '/api/chat',
          model: 'qwen2.5:0.5b',
          promptTokens: 3,
          evalTokens: 5,
          status: 200,
          durationMs: 0,
        },
        {
          keyId: null,
          route: '/api/generate',
          model: 'llama3.2:1b',
          promptTokens: 2,
          evalTokens: 2,
          status: 200,
          durationMs: 0,
        },
        {
          keyId: null,
          route: '/v1/chat/completions',
          model: 'qwen2.5:0.5b',
          promptTokens: 2,
          evalTokens: 5,
          status: 200,
          durationMs: 0,
        },
        {
          keyId: null,
          route: '/api/embed',
          model: 'nomic-embed-text',
          promptTokens: 3,
          evalTokens: null,
          status: 200,
          durationMs: 0,
        },
      ])

      // An aborted stream is recorded as 499.
      stack.fake.set({ chunks: 1000, chunkDelayMs: 50 })
      const { res, abort } = await openRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"p"}',
      })
      await readLines(res, 1)
      abort()
      await until(() => usage.records.length === 5, 'the aborted request’s record')
      expect(usage.records[4]).toMatchObject({ route: '/api/generate', status: 499, model: 'm' })

      stack.gateway.metrics.observeColdStartPhase('booting', 42)
      const metrics = await rawRequest({ port: stack.port, path: '/metrics' })
      expect(metrics.status).toBe(200)
      expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(metrics.body).toContain(
        'exollama_gateway_requests_total{route="/api/chat",status="200"} 1',
      )
      expect(metrics.body).toContain(
        'exollama_gateway_requests_total{route="/api/generate",status="499"} 1',
      )
      expect(metrics.body).toContain(
        'exollama_gateway_tokens_total{kind="eval",model="qwen2.5:0.5b"} 10',
      )
      expect(metrics.body).toContain('exollama_gateway_cold_start_seconds_count{phase="booting"} 1')
      expect(metrics.body).toMatch(
        /exollama_gateway_upstream_latency_seconds_count\{route="\/api\/chat"\} 1/,
      )
      expect(metrics.body).toContain('exollama_gateway_requests_in_flight 0')
      expect(metrics.body).toContain('exollama_gateway_held_requests 0')
      expect(metrics.body).toContain('exollama_gateway_wakes_total 0')
    } finally {
      await stack.close()
    }
  })

  it('durations come from the injected clock', async () => {
    const usage = new RecordingUsage()
    const clock = new ManualClock()
    const fakeClock = clock
    const stack = await startStack({
      usage,
      clock,
      fake: { clock: fakeClock, behavior: { chunks: 1, chunkDelayMs: 2500 } },
    })
    try {
      const { res } = await openRequest({
        port: stack.port,
        method: 'POST',
        path: '/api/generate',
        body: '{"model":"m","prompt":"p"}',
      })
      const body = readAll(res)
      await clock.advance(2500)
      await body
      await until(() => usage.records.length === 1, 'a usage record')
      expect(usage.records[0]).toMatchObject({ durationMs: 2500, evalTokens: 1 })
    } finally {
      await stack.close()
    }
  })
})
