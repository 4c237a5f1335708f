import { describe, expect, it } from 'vitest'
import { NginxSyntaxError, parseNginxConf, walkNginxConf } from './nginx-conf.js'

describe('parseNginxConf', () => {
  it('reads directives, blocks, quotes, escapes and comments as nginx does', () => {
    const conf = [
      '# a comment',
      'map $http_x $y { default 0; "~^a b$" 1; }',
      'server {',
      '    return 401 \'{"error":"x"}\\n\'; # trailing comment',
      '    set $v "${y}z";',
      '    location = /p { alias /a/b.json; }',
      '}',
    ].join('\n')
    const tree = parseNginxConf(conf)
    expect(tree.map((d) => d.name)).toEqual(['map', 'server'])
    expect(tree[0]?.args).toEqual(['$http_x', '$y'])
    expect(tree[0]?.block?.map((d) => [d.name, ...d.args])).toEqual([
      ['default', '0'],
      ['~^a b$', '1'],
    ])
    const server = tree[1]?.block ?? []
    expect(server[0]).toMatchObject({ name: 'return', args: ['401', '{"error":"x"}\n'], line: 4 })
    expect(server[1]?.args).toEqual(['$v', '${y}z'])
    expect(server[2]?.block?.[0]).toMatchObject({ name: 'alias', args: ['/a/b.json'], line: 6 })
    const names = [...walkNginxConf(tree)].map(({ directive, parents }) =>
      [...parents.map((p) => p.name), directive.name].join('>'),
    )
    expect(names).toContain('server>location>alias')
  })

  it('refuses broken syntax', () => {
    for (const bad of ['server {', 'server { }}', 'listen 80', "return 200 'x;", '; x;']) {
      expect(() => parseNginxConf(bad)).toThrow(NginxSyntaxError)
    }
  })
})
