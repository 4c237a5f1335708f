import { describe, expect, it } from 'vitest'
import { ExoscaleError } from '../exoscale/index.js'
import { RecipeSettingError } from '../recipe/index.js'
import { explainCreateError, explainRecipeError, isAmbiguousCreateFailure } from './explain.js'

describe('explain', () => {
  it('restates recipe input errors with the setting the user controls', () => {
    const error = explainRecipeError(
      new RecipeSettingError('preloadModels[1]', 'is not a model name'),
    )
    expect(error).toMatchObject({ code: 'invalid_setting', kind: 'config' })
    expect((error as Error).message).toBe(
      'EXOLLAMA_MODEL cannot be used: is not a model name: fix EXOLLAMA_MODEL',
    )
  })

  it('keeps the client’s code for quota and capacity but names the settings that fix them', () => {
    const quota = explainCreateError(
      new ExoscaleError('exoscale_quota_exceeded', 'x', {
        apiMessage: 'Quota exceeded for resource gpu (limit 0)',
      }),
      { zone: 'at-vie-2', instanceType: 'gpua5000.small' },
    ) as ExoscaleError
    expect(quota.code).toBe('exoscale_quota_exceeded')
    expect(quota.message).toContain('Quota exceeded for resource gpu (limit 0)')
    expect(quota.message).toContain('EXOSCALE_INSTANCE_TYPE')
    const other = new ExoscaleError('exoscale_conflict', 'busy')
    expect(explainCreateError(other, { zone: 'z', instanceType: 't' })).toBe(other)
  })

  it('only answers without a definite outcome count as ambiguous', () => {
    expect(isAmbiguousCreateFailure(new ExoscaleError('exoscale_server_error', 'x'))).toBe(true)
    expect(isAmbiguousCreateFailure(new ExoscaleError('exoscale_network', 'x'))).toBe(true)
    expect(isAmbiguousCreateFailure(new ExoscaleError('exoscale_bad_request', 'x'))).toBe(false)
    expect(isAmbiguousCreateFailure(new ExoscaleError('exoscale_quota_exceeded', 'x'))).toBe(false)
    expect(isAmbiguousCreateFailure(new ExoscaleError('exoscale_rate_limited', 'x'))).toBe(false)
  })
})
