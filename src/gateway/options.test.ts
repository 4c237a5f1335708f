import { describe, expect, it } from 'vitest'
import { DEFAULT_GATEWAY_OPTIONS, resolveGatewayOptions } from './options.js'

describe('resolveGatewayOptions', () => {
  it('defaults: 900 s wake timeout, no throttling, no header timeout, model admin off', () => {
    const o = resolveGatewayOptions()
    expect(o).toEqual(DEFAULT_GATEWAY_OPTIONS)
    expect(o.wakeTimeoutMs).toBe(900_000)
    expect(o.limits).toMatchObject({
      requestsPerMinute: 0,
      concurrencyPerKey: 0,
      limitLoopback: false,
    })
    expect(o.upstreamHeadersTimeoutMs).toBe(0)
    expect(o.allowModelAdmin).toBe(false)
  })

  it('merges partial input; burst follows the rate unless given', () => {
    const o = resolveGatewayOptions({
      wakeTimeoutMs: 20_000,
      limits: { requestsPerMinute: 30 },
      requireKeys: undefined,
    })
    expect(o.wakeTimeoutMs).toBe(20_000)
    expect(o.limits).toEqual({
      requestsPerMinute: 30,
      burst: 30,
      concurrencyPerKey: 0,
      limitLoopback: false,
    })
    expect(
      resolveGatewayOptions({ limits: { requestsPerMinute: 30, burst: 5 } }).limits.burst,
    ).toBe(5)
  })

  it('rejects nonsense with a typed error naming the option', () => {
    expect(() => resolveGatewayOptions({ wakeTimeoutMs: -1 })).toThrow(/wakeTimeoutMs/)
    expect(() => resolveGatewayOptions({ maxBodyBytes: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'invalid_gateway_option' }),
    )
  })
})
