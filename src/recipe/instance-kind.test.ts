import { describe, expect, it } from 'vitest'
import { isGpuInstanceType, ubuntuReleaseForTemplate } from './instance-kind.js'

describe('ubuntuReleaseForTemplate', () => {
  it.each([
    ['Linux Ubuntu 22.04 LTS 64-bit', '22.04'],
    ['Linux Ubuntu 24.04 LTS 64-bit', '24.04'],
    ['linux ubuntu 24.04 lts 64-bit', '24.04'],
  ])('%s → %s', (name, release) => {
    expect(ubuntuReleaseForTemplate(name)).toBe(release)
  })

  it.each([
    'Linux Ubuntu 20.04 LTS 64-bit',
    'Linux Debian 12 (Bookworm) 64-bit',
    'Ubuntu 22.041',
    '',
  ])('refuses %j with a clear, typed error', (name) => {
    expect(() => ubuntuReleaseForTemplate(name)).toThrow(
      expect.objectContaining({
        code: 'recipe_unsupported_template',
        kind: 'config',
        message: expect.stringContaining('Linux Ubuntu 22.04 LTS 64-bit'),
      }),
    )
  })
})

describe('isGpuInstanceType', () => {
  it.each([
    'gpu.small',
    'gpu2.medium',
    'gpu3.huge',
    'gpu3080ti.small',
    'gpua30.large',
    'gpua5000.small',
    'gpub300.huge',
    'gpurtx6000pro.large',
    'GPUA5000.SMALL',
    'gpu3',
  ])('%s has GPUs', (type) => expect(isGpuInstanceType(type)).toBe(true))

  it.each([
    'standard.medium',
    'cpu.huge',
    'memory.large',
    'storage.extra-large',
    'colossus',
    'standard.gpu',
    '',
  ])('%s has none', (type) => expect(isGpuInstanceType(type)).toBe(false))
})
