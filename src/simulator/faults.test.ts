import { describe, expect, it } from 'vitest'
import { FaultRegistry, type FaultSubject } from './faults.js'

const subject = (over: Partial<FaultSubject> = {}): FaultSubject => ({
  method: 'POST',
  path: '/instance',
  operationId: 'create-instance',
  zone: 'ch-gva-2',
  ...over,
})

describe('FaultRegistry', () => {
  it('fires a request fault `times` times, then goes inactive', () => {
    const faults = new FaultRegistry()
    const h = faults.serverError({ status: 502, times: 2 })
    expect(faults.takeRequestFault(subject())?.kind).toBe('server-error')
    expect(faults.takeRequestFault(subject())?.kind).toBe('server-error')
    expect(faults.takeRequestFault(subject())).toBeUndefined()
    expect(h.hits).toBe(2)
    expect(h.active).toBe(false)
    expect(faults.list()).toEqual([])
  })

  it('matches on method, path (string or RegExp), operation id and zone', () => {
    const faults = new FaultRegistry()
    faults.rateLimit({ match: { method: 'get', path: /^\/operation\// }, times: Infinity })
    faults.serverError({
      match: { operationId: 'start-instance', zone: 'at-vie-2' },
      times: Infinity,
    })
    expect(faults.takeRequestFault(subject())).toBeUndefined()
    expect(
      faults.takeRequestFault(
        subject({ method: 'GET', path: '/operation/x', operationId: 'get-operation' }),
      )?.kind,
    ).toBe('rate-limit')
    expect(faults.takeRequestFault(subject({ operationId: 'start-instance' }))).toBeUndefined()
    expect(
      faults.takeRequestFault(subject({ operationId: 'start-instance', zone: 'at-vie-2' }))?.kind,
    ).toBe('server-error')
  })

  it('removes one fault or clears all', () => {
    const faults = new FaultRegistry()
    const a = faults.rateLimit({ times: Infinity })
    faults.serverError({ times: Infinity, match: { method: 'DELETE' } })
    a.remove()
    expect(a.active).toBe(false)
    expect(faults.takeRequestFault(subject())).toBeUndefined()
    expect(faults.takeRequestFault(subject({ method: 'DELETE' }))?.kind).toBe('server-error')
    faults.clear()
    expect(faults.takeRequestFault(subject({ method: 'DELETE' }))).toBeUndefined()
  })

  it('overrides quotas while active', () => {
    const faults = new FaultRegistry()
    expect(faults.quotaOverride('instance')).toBeUndefined()
    const h = faults.quota('instance', 0)
    expect(faults.quotaOverride('instance')).toBe(0)
    h.remove()
    expect(faults.quotaOverride('instance')).toBeUndefined()
    expect(() => faults.quota('gpu', -2)).toThrow(RangeError)
  })

  it('gives capacity precedence over a generic failure and sums slow delays', () => {
    const faults = new FaultRegistry()
    faults.failOperation({ reason: 'busy' })
    faults.capacity('gpua5000.small', { zone: 'at-vie-2' })
    faults.slowOperations(100)
    faults.slowOperations(50, { match: { operationId: 'create-instance' } })
    const gva = faults.takeOperationFaults(subject(), 'gpua5000.small')
    expect(gva.failure?.kind).toBe('operation-failure')
    expect(gva.extraDelayMs).toBe(150)
    const vie = faults.takeOperationFaults(subject({ zone: 'at-vie-2' }), 'gpua5000.small')
    expect(vie.failure?.kind).toBe('capacity')
    const again = faults.takeOperationFaults(subject({ zone: 'at-vie-2' }), 'gpua5000.small')
    expect(again.failure?.kind).toBe('capacity')
    expect(faults.takeOperationFaults(subject(), 'standard.small').failure).toBeUndefined()
  })
})
