import { describe, expect, it } from 'vitest'
import { Secret } from '../shared/index.js'
import {
  codeForStatus,
  errorFromNetwork,
  errorFromOperation,
  errorFromResponse,
  parseErrorBody,
} from './error-mapping.js'
import { EXOSCALE_ERROR_CODES, EXOSCALE_ERROR_KINDS, ExoscaleError } from './errors.js'

describe('parseErrorBody', () => {
  it('reads the classic {"message"}', () => {
    expect(parseErrorBody('{"message":"Invalid request signature"}')).toBe(
      'Invalid request signature',
    )
  })
  it('reads {"error"} as a string or an object', () => {
    expect(parseErrorBody('{"error":"rate limited","retry_after":3}')).toBe('rate limited')
    expect(parseErrorBody('{"error":{"message":"nope"}}')).toBe('nope')
  })
  it('reads RFC 9457 problem details with string and object errors', () => {
    const body = JSON.stringify({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'validation failed',
      errors: ['disk-size too small', { location: 'body.name', detail: 'too long' }],
    })
    expect(parseErrorBody(body)).toBe(
      'Bad Request: validation failed; disk-size too small; body.name: too long',
    )
  })
  it('keeps plain text and HTML words on one line', () => {
    expect(parseErrorBody('service unavailable\n')).toBe('service unavailable')
    expect(parseErrorBody('<html><body><h1>502 Bad Gateway</h1>\n</body></html>')).toBe(
      '502 Bad Gateway',
    )
  })
  it('gives undefined for an empty body and a JSON string for a JSON string', () => {
    expect(parseErrorBody('')).toBeUndefined()
    expect(parseErrorBody('  \n')).toBeUndefined()
    expect(parseErrorBody('"boom"')).toBe('boom')
  })
  it('falls back to the raw JSON for unknown shapes and truncates long text', () => {
    expect(parseErrorBody('{"foo":1}')).toBe('{"foo":1}')
    expect(parseErrorBody('x'.repeat(1000))?.length).toBe(300)
  })
})

describe('codeForStatus', () => {
  it.each([
    [401, 'Unauthorized', 'exoscale_invalid_credentials'],
    [403, 'Invalid request signature', 'exoscale_invalid_credentials'],
    [403, 'Forbidden by role policy for compute', 'exoscale_invalid_credentials'],
    [403, 'Quota exceeded for resource instance (limit 2)', 'exoscale_quota_exceeded'],
    [400, 'instance limit exceeded', 'exoscale_quota_exceeded'],
    [404, 'Instance not found', 'exoscale_not_found'],
    [409, 'Operation already in progress', 'exoscale_conflict'],
    [412, 'precondition failed', 'exoscale_conflict'],
    [412, 'Insufficient GPUs available', 'exoscale_capacity_unavailable'],
    [400, 'invalid disk-size', 'exoscale_bad_request'],
    [422, 'unprocessable', 'exoscale_bad_request'],
    [429, '', 'exoscale_rate_limited'],
    [500, 'Internal error', 'exoscale_server_error'],
    [501, '', 'exoscale_server_error'],
    [503, 'service unavailable', 'exoscale_server_error'],
    [503, 'Insufficient capacity for gpua5000.small', 'exoscale_capacity_unavailable'],
  ] as const)('%i %j → %s', (status, message, code) => {
    expect(codeForStatus(status, message)).toBe(code)
  })
})

describe('errorFromResponse', () => {
  it('carries status, method, path, request id and the API message', () => {
    const e = errorFromResponse({
      status: 404,
      bodyText: '{"message":"Instance not found"}',
      method: 'GET',
      path: '/v2/instance/abc',
      requestId: 'req-1',
    })
    expect(e).toBeInstanceOf(ExoscaleError)
    expect(e.code).toBe('exoscale_not_found')
    expect(e.kind).toBe('config')
    expect(e).toMatchObject({
      status: 404,
      method: 'GET',
      path: '/v2/instance/abc',
      requestId: 'req-1',
      apiMessage: 'Instance not found',
    })
    expect(e.message).toContain('404 GET /v2/instance/abc: Instance not found')
    expect(e.message).not.toContain('\n')
    expect(e.cause).toMatchObject({ status: 404 })
  })

  it('tells the user what to check on bad credentials', () => {
    const e = errorFromResponse({
      status: 403,
      bodyText: '{"message":"Invalid request signature"}',
      method: 'GET',
      path: '/v2/instance',
    })
    expect(e.code).toBe('exoscale_invalid_credentials')
    expect(e.message).toMatch(/EXOSCALE_API_KEY \/ EXOSCALE_API_SECRET/)
    expect(e.message).toMatch(/clock/)
  })

  it('removes secrets the body might echo', () => {
    const secret = new Secret('CANARY-secret-value')
    const e = errorFromResponse({
      status: 400,
      bodyText: '{"message":"bad header EXO2-HMAC-SHA256 sig CANARY-secret-value"}',
      method: 'POST',
      path: '/v2/instance',
      secrets: [secret, 'EXO2-HMAC-SHA256 sig'],
    })
    expect(JSON.stringify({ e, cause: e.cause, msg: e.message })).not.toContain('CANARY')
    expect(e.message).not.toContain('EXO2-HMAC-SHA256 sig')
  })

  it('handles an empty body', () => {
    const e = errorFromResponse({ status: 502, bodyText: '', method: 'GET', path: '/v2/zone' })
    expect(e.code).toBe('exoscale_server_error')
    expect(e.apiMessage).toBeUndefined()
    expect(e.message).toContain('(502 GET /v2/zone)')
  })
})

describe('errorFromNetwork', () => {
  it('names the low-level code and keeps the cause', () => {
    const cause = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    })
    const e = errorFromNetwork({
      cause,
      method: 'GET',
      path: '/v2/zone',
      origin: 'http://127.0.0.1:1',
    })
    expect(e.code).toBe('exoscale_network')
    expect(e.kind).toBe('cloud')
    expect(e.message).toContain('ECONNREFUSED')
    expect(e.message).toContain('EXOSCALE_API_ENDPOINT')
    expect(e.cause).toBe(cause)
  })
})

describe('errorFromOperation', () => {
  it('maps a failure with its reason and message', () => {
    const e = errorFromOperation({
      id: 'op-1',
      state: 'failure',
      reason: 'fault',
      message: 'disk image corrupt',
      reference: { id: 'i-1', command: 'create-instance' },
    })
    expect(e.code).toBe('exoscale_operation_failed')
    expect(e.kind).toBe('cloud')
    expect(e.message).toContain(
      'op-1 (create-instance) ended failure, reason fault: disk image corrupt',
    )
    expect(e.operation).toMatchObject({ id: 'op-1', reason: 'fault', referenceId: 'i-1' })
  })
  it('maps an operation timeout to exoscale_operation_failed too', () => {
    expect(errorFromOperation({ id: 'op-2', state: 'timeout' }).code).toBe(
      'exoscale_operation_failed',
    )
  })
  it('recognises capacity and quota failures', () => {
    expect(
      errorFromOperation({
        id: 'op',
        state: 'failure',
        reason: 'unavailable',
        message: 'Insufficient capacity for gpua5000.small in at-vie-2',
      }).code,
    ).toBe('exoscale_capacity_unavailable')
    expect(
      errorFromOperation({ id: 'op', state: 'failure', message: 'Quota exceeded for gpu' }).code,
    ).toBe('exoscale_quota_exceeded')
  })
})

describe('error kinds', () => {
  it('classifies every code as the architecture says', () => {
    expect(Object.keys(EXOSCALE_ERROR_KINDS).sort()).toEqual([...EXOSCALE_ERROR_CODES].sort())
    const byKind = (kind: string) =>
      EXOSCALE_ERROR_CODES.filter((c) => EXOSCALE_ERROR_KINDS[c] === kind).sort()
    expect(byKind('config')).toEqual([
      'exoscale_bad_request',
      'exoscale_invalid_credentials',
      'exoscale_not_found',
      'exoscale_quota_exceeded',
    ])
    expect(byKind('timeout')).toEqual(['exoscale_operation_timeout'])
    expect(byKind('cloud')).toEqual([
      'exoscale_capacity_unavailable',
      'exoscale_conflict',
      'exoscale_network',
      'exoscale_operation_failed',
      'exoscale_rate_limited',
      'exoscale_server_error',
    ])
  })
})
