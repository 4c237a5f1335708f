import { describe, expect, it } from 'vitest'
import { canonicalCidr, canonicalCidrList } from './cidr.js'

describe('canonicalCidr', () => {
  it.each([
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.0.2.77/24', '192.0.2.0/24'],
    ['192.0.2.77', '192.0.2.77/32'],
    ['255.255.255.255/1', '128.0.0.0/1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001/128', '2001:db8::1/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:db8::abcd/64', '2001:db8::/64'],
    ['::1', '::1/128'],
    ['::', '::/128'],
    ['fe80::/10', 'fe80::/10'],
    ['::ffff:192.0.2.1/128', '::ffff:c000:201/128'],
    ['1:0:0:2:0:0:0:3/128', '1:0:0:2::3/128'],
  ])('%s → %s', (input, output) => {
    expect(canonicalCidr(input)).toBe(output)
  })

  it.each([
    '',
    '1.2.3',
    '1.2.3.4/',
    '1.2.3.4/-1',
    '1.2.3.4/33',
    '1.2.3.4/08x',
    'fe80::1%eth0',
    '::1/129',
    'gggg::/16',
    '1:2:3:4:5:6:7:8:9/128',
    'host.example/32',
  ])('rejects %j', (input) => {
    expect(canonicalCidr(input)).toBeUndefined()
  })

  it('dedupes lists and rejects empty ones', () => {
    expect(canonicalCidrList('10.0.0.1/8, 10.9.9.9/8 ,::/0')).toEqual(['10.0.0.0/8', '::/0'])
    expect(canonicalCidrList(' , ')).toBeUndefined()
  })
})
