import { describe, expect, it } from 'vitest'
import {
  hostAllowed,
  hostIsLoopback,
  isLoopbackAddress,
  isLoopbackListenHost,
  originAllowed,
  parseHost,
  type HostPolicy,
} from './host-guard.js'

const policy = (over: Partial<HostPolicy> = {}): HostPolicy => ({
  listenHost: '127.0.0.1',
  port: 11434,
  allowedHosts: [],
  allowedOrigins: [],
  ...over,
})

describe('host guard', () => {
  it('parses Host values', () => {
    expect(parseHost('LocalHost:11434')).toEqual({ hostname: 'localhost', port: 11434 })
    expect(parseHost('[::1]:8080')).toEqual({ hostname: '::1', port: 8080 })
    expect(parseHost('example.com')).toEqual({ hostname: 'example.com', port: undefined })
    for (const bad of ['[::1', 'a b', 'host:0', 'host:99999', 'host:x', '[zz]:1', 'user@host']) {
      expect(parseHost(bad), bad).toBeUndefined()
    }
  })

  it('loopback addresses and names', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true)
    expect(isLoopbackAddress('127.9.9.9')).toBe(true)
    expect(isLoopbackAddress('::1')).toBe(true)
    expect(isLoopbackAddress('::ffff:127.0.0.1')).toBe(true)
    expect(isLoopbackAddress('10.0.0.1')).toBe(false)
    expect(isLoopbackAddress(undefined)).toBe(false)
    expect(isLoopbackListenHost('localhost')).toBe(true)
    expect(isLoopbackListenHost('[::1]')).toBe(true)
    expect(isLoopbackListenHost('0.0.0.0')).toBe(false)
    expect(isLoopbackListenHost('192.168.1.5')).toBe(false)
  })

  it('accepts loopback names on the listen port only', () => {
    expect(hostAllowed('127.0.0.1:11434', policy())).toBe(true)
    expect(hostAllowed('localhost:11434', policy())).toBe(true)
    expect(hostAllowed('app.localhost:11434', policy())).toBe(true)
    expect(hostAllowed('[::1]:11434', policy())).toBe(true)
    expect(hostAllowed(undefined, policy())).toBe(true)
    expect(hostAllowed('127.0.0.1:11435', policy())).toBe(false)
    expect(hostAllowed('localhost', policy())).toBe(false)
    expect(hostAllowed('evil.example:11434', policy())).toBe(false)
    expect(hostAllowed('192.168.1.5:11434', policy())).toBe(false)
  })

  it('configured names: bare = any port, with port = that port', () => {
    const p = policy({ allowedHosts: ['gw.lan', 'proxy.lan:443'] })
    expect(hostAllowed('gw.lan:8080', p)).toBe(true)
    expect(hostAllowed('proxy.lan:443', p)).toBe(true)
    expect(hostAllowed('proxy.lan:80', p)).toBe(false)
  })

  it('a specific listen IP is accepted; on a wildcard address any IP literal but no unknown name', () => {
    expect(hostAllowed('192.168.1.5:11434', policy({ listenHost: '192.168.1.5' }))).toBe(true)
    expect(hostAllowed('192.168.1.6:11434', policy({ listenHost: '192.168.1.5' }))).toBe(false)
    const wild = policy({ listenHost: '0.0.0.0' })
    expect(hostAllowed('10.1.2.3:11434', wild)).toBe(true)
    expect(hostAllowed('[fe80::1]:11434', wild)).toBe(true)
    expect(hostAllowed('rebind.evil.example:11434', wild)).toBe(false)
  })

  it('in-process use (no port) accepts loopback names on any port', () => {
    expect(hostAllowed('localhost:1234', policy({ listenHost: undefined, port: undefined }))).toBe(
      true,
    )
    expect(
      hostAllowed('evil.example:1234', policy({ listenHost: undefined, port: undefined })),
    ).toBe(false)
  })

  it('origins: loopback and app schemes with a loopback Host, configured ones always, nothing else', () => {
    const p = policy({ allowedOrigins: ['https://webui.example'] })
    expect(originAllowed('http://localhost:3000', true, p)).toBe(true)
    expect(originAllowed('https://127.0.0.1', true, p)).toBe(true)
    expect(originAllowed('http://[::1]:5173', true, p)).toBe(true)
    expect(originAllowed('vscode-webview://abc', true, p)).toBe(true)
    expect(originAllowed('https://webui.example', false, p)).toBe(true)
    expect(originAllowed('https://webui.example.evil', true, p)).toBe(false)
    expect(originAllowed('http://localhost:3000', false, p)).toBe(false)
    expect(originAllowed('https://evil.example', true, p)).toBe(false)
    expect(originAllowed('null', true, p)).toBe(false)
    expect(originAllowed('file://', true, p)).toBe(false)
    expect(hostIsLoopback('localhost:1')).toBe(true)
    expect(hostIsLoopback('gw.lan:1')).toBe(false)
  })
})
