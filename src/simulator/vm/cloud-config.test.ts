import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { CloudConfigError, readCloudConfig } from './cloud-config.js'

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64')
const gzb64 = (text: string) => gzipSync(Buffer.from(text)).toString('base64')

describe('readCloudConfig', () => {
  const doc = [
    '#cloud-config',
    'write_files:',
    '  - path: /etc/a.conf',
    "    content: 'hello'",
    "    permissions: '0600'",
    '  - path: /etc/b.bin',
    '    encoding: b64',
    `    content: ${b64('binary\u0000data')}`,
    '    permissions: 0755', // YAML 1.1: octal, as PyYAML reads it
    '  - path: /etc/c.txt',
    '    encoding: gz+b64',
    `    content: ${gzb64('zipped')}`,
    '  - path: /etc/a.conf',
    '    append: true',
    "    content: ' world'",
    '',
  ].join('\n')

  it('reads gzipped and plain base64 user-data alike', () => {
    for (const userData of [gzb64(doc), b64(doc)]) {
      const config = readCloudConfig(userData)
      expect(config.text).toBe(doc)
      expect([...config.files.keys()]).toEqual(['/etc/a.conf', '/etc/b.bin', '/etc/c.txt'])
    }
  })

  it('decodes contents, appends, and reads permissions as cloud-init does', () => {
    const files = readCloudConfig(gzb64(doc)).files
    expect(files.get('/etc/a.conf')?.content.toString()).toBe('hello world')
    // The appending entry has no permissions: cloud-init chmods to its default 0644.
    expect(files.get('/etc/a.conf')?.mode).toBe(0o644)
    expect(files.get('/etc/b.bin')?.content).toEqual(Buffer.from('binary\u0000data'))
    expect(files.get('/etc/b.bin')?.mode).toBe(0o755)
    expect(files.get('/etc/c.txt')?.content.toString()).toBe('zipped')
    expect(files.get('/etc/c.txt')?.mode).toBe(0o644)
  })

  it('parses YAML 1.1 the way PyYAML does', () => {
    const config = readCloudConfig(b64('#cloud-config\nflag: yes\nmode: 0644\nname: "0644"\n'))
    expect(config.doc).toEqual({ flag: true, mode: 0o644, name: '0644' })
  })

  it('refuses what cloud-init would not apply, with a reason', () => {
    const cases: [string, RegExp][] = [
      ['not base64!', /not valid base64/],
      [b64('#!/bin/sh\necho hi\n'), /not a #cloud-config/],
      [b64('#cloud-config\n- a\n- b\n'), /not a mapping/],
      [b64('#cloud-config\na: [\n'), /not valid YAML/],
      [b64('#cloud-config\nwrite_files: {a: 1}\n'), /write_files is not a list/],
      [b64('#cloud-config\nwrite_files:\n  - content: x\n'), /no absolute path/],
      [
        b64('#cloud-config\nwrite_files:\n  - path: /x\n    encoding: rot13\n    content: x\n'),
        /unknown encoding/,
      ],
      [b64("#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 'rw'\n"), /permissions/],
    ]
    for (const [userData, message] of cases) {
      expect(() => readCloudConfig(userData)).toThrow(CloudConfigError)
      expect(() => readCloudConfig(userData)).toThrow(message)
    }
  })
})
