import { describe, expect, it } from 'vitest'
import { templateMinDiskGiB } from './create-plan.js'

describe('templateMinDiskGiB', () => {
  it('is the image size rounded up to whole GiB, never below Exoscale’s 10 GiB', () => {
    const GiB = 1024 ** 3
    expect(templateMinDiskGiB({ size: 10 * GiB })).toBe(10)
    expect(templateMinDiskGiB({ size: 10 * GiB + 1 })).toBe(11)
    expect(templateMinDiskGiB({ size: 2 * GiB })).toBe(10)
    expect(templateMinDiskGiB({})).toBe(10)
  })
})
