import { describe, expect, it } from 'vitest'
import { VmFaultRegistry } from './vm-faults.js'

const a = { instanceId: 'a', name: 'one' }
const b = { instanceId: 'b', name: 'two' }

describe('VmFaultRegistry', () => {
  it('applies a boot failure once by default, at its phase only', () => {
    const faults = new VmFaultRegistry()
    const handle = faults.failBoot('docker', { message: 'boom' })
    expect(faults.take('boot-failure', a, 'packages')).toBeUndefined()
    expect(faults.take('boot-failure', a, 'docker')).toMatchObject({ message: 'boom' })
    expect(faults.take('boot-failure', a, 'docker')).toBeUndefined()
    expect(handle).toMatchObject({ hits: 1, active: false })
  })

  it('matches instances and keeps certificate and version faults until removed', () => {
    const faults = new VmFaultRegistry()
    const cert = faults.wrongCertificate({ certPem: 'c', keyPem: 'k' }, { match: { name: 'two' } })
    expect(faults.take('wrong-certificate', a)).toBeUndefined()
    for (let i = 0; i < 3; i++)
      expect(faults.take('wrong-certificate', b)).toMatchObject({ certPem: 'c' })
    cert.remove()
    expect(faults.take('wrong-certificate', b)).toBeUndefined()
    faults.ollamaVersion('0.1.0', { times: 2 })
    expect(faults.take('ollama-version', a)?.version).toBe('0.1.0')
    expect(faults.take('ollama-version', b)?.version).toBe('0.1.0')
    expect(faults.take('ollama-version', a)).toBeUndefined()
  })

  it('lists active faults, clears them, and rejects a negative delay', () => {
    const faults = new VmFaultRegistry()
    faults.proxyDown()
    faults.slowBoot('health', 100)
    expect(faults.list().map((f) => f.spec.kind)).toEqual(['proxy-down', 'slow-boot'])
    faults.clear()
    expect(faults.list()).toEqual([])
    expect(() => faults.slowBoot('health', -1)).toThrow(RangeError)
  })
})
