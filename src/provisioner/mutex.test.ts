import { describe, expect, it } from 'vitest'
import { Mutex } from './mutex.js'

describe('Mutex', () => {
  it('runs holders one at a time, in order', async () => {
    const mutex = new Mutex()
    const log: string[] = []
    let release!: () => void
    const first = mutex.run(async () => {
      log.push('a start')
      await new Promise<void>((r) => (release = r))
      log.push('a end')
    })
    const second = mutex.run(async () => {
      log.push('b')
    })
    await new Promise((r) => setImmediate(r))
    expect(log).toEqual(['a start'])
    expect(mutex.held).toBe(true)
    release()
    await Promise.all([first, second])
    expect(log).toEqual(['a start', 'a end', 'b'])
    expect(mutex.held).toBe(false)
  })

  it('a waiter whose signal aborts leaves the queue without breaking the order of the rest', async () => {
    const mutex = new Mutex()
    const log: string[] = []
    let release!: () => void
    const first = mutex.run(() => new Promise<void>((r) => (release = r)))
    const controller = new AbortController()
    const quitter = mutex.run(async () => {
      log.push('quitter ran')
    }, controller.signal)
    const third = mutex.run(async () => {
      log.push('third')
    })
    controller.abort(new Error('gone'))
    await expect(quitter).rejects.toThrow('gone')
    release()
    await Promise.all([first, third])
    expect(log).toEqual(['third'])
  })

  it('a holder that throws releases the mutex', async () => {
    const mutex = new Mutex()
    await expect(mutex.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(await mutex.run(() => Promise.resolve(42))).toBe(42)
  })
})
