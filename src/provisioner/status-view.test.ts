import { describe, expect, it } from 'vitest'
import type { Instance } from '../exoscale/index.js'
import type { InstanceRecord, InstanceState } from '../store/index.js'
import { stateFromCloud } from './status-view.js'

// stateFromCloud reads only which instance the store records and in what state.
const record = (instanceId: string, state: InstanceState) =>
  ({ instanceId, state }) as InstanceRecord

const cloud = (state: string | undefined, id: string | undefined = 'i1') =>
  ({ id, state }) as Instance

describe('stateFromCloud', () => {
  it('is absent without an instance, unless the last wake failed', () => {
    expect(stateFromCloud('ready', undefined, null)).toBe('absent')
    expect(stateFromCloud('error', undefined, record('i1', 'ready'))).toBe('error')
  })

  it('takes ready or stopping from the store only for the recorded running instance', () => {
    expect(stateFromCloud('absent', cloud('running'), record('i1', 'ready'))).toBe('ready')
    expect(stateFromCloud('absent', cloud('migrating'), record('i1', 'stopping'))).toBe('stopping')
    expect(stateFromCloud('absent', cloud('running'), record('i1', 'provisioning'))).toBe('booting')
    expect(stateFromCloud('absent', cloud('running'), record('other', 'ready'))).toBe('booting')
    expect(stateFromCloud('absent', cloud('running', undefined), null)).toBe('booting')
  })

  it("follows the cloud's state otherwise, and the store's for a state it does not know", () => {
    expect(stateFromCloud('ready', cloud('starting'), record('i1', 'ready'))).toBe('provisioning')
    expect(stateFromCloud('ready', cloud('stopped'), record('i1', 'ready'))).toBe('stopped')
    expect(stateFromCloud('ready', cloud('expunging'), null)).toBe('destroying')
    expect(stateFromCloud('ready', cloud('error'), null)).toBe('error')
    expect(stateFromCloud('absent', cloud('resizing'), record('i1', 'stopping'))).toBe('stopping')
    expect(stateFromCloud('absent', cloud(undefined), null)).toBe('provisioning')
  })
})
