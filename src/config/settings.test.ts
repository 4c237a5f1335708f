import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { Secret } from '../shared/index.js'
import { InvalidSettingError } from './errors.js'
import { formatSetting, parseSetting } from './parse-setting.js'
import { SETTINGS, SETTING_NAMES, settingDefinition, type SettingName } from './settings.js'

/** For every setting: values it must accept (input → canonical text) and values it must reject. */
const CASES: Record<SettingName, { good: [string, string][]; bad: string[] }> = {
  EXOSCALE_API_KEY: {
    good: [['EXO0123456789abcdef01234567', 'EXO0123456789abcdef01234567']],
    bad: ['', 'EXO with space', 'EXO\nnewline'],
  },
  EXOSCALE_API_SECRET: { good: [['s3cr3t-Value_xyz', 's3cr3t-Value_xyz']], bad: ['', 'a b'] },
  EXOSCALE_API_ENDPOINT: {
    good: [
      ['https://api-{zone}.exoscale.com/v2', 'https://api-{zone}.exoscale.com/v2'],
      ['http://127.0.0.1:8123/v2/', 'http://127.0.0.1:8123/v2'],
    ],
    bad: ['ftp://example.com', 'api.exoscale.com/v2', 'https://x/v2?a=1', 'banana'],
  },
  EXOSCALE_ZONE: {
    good: [
      ['ch-gva-2', 'ch-gva-2'],
      [' DE-FRA-1 ', 'de-fra-1'],
    ],
    bad: ['ch-gva-3', 'us-east-1', '', 'banana'],
  },
  EXOSCALE_INSTANCE_TYPE: {
    good: [
      ['standard.medium', 'standard.medium'],
      ['gpua5000.small', 'gpua5000.small'],
      ['large', 'standard.large'],
      ['GPU3.Huge', 'gpu3.huge'],
    ],
    bad: ['standard', 'foo.medium', 'standard.gigantic', 'standard.medium.x', ''],
  },
  EXOSCALE_TEMPLATE: {
    good: [['Linux Ubuntu 24.04 LTS 64-bit', 'Linux Ubuntu 24.04 LTS 64-bit']],
    bad: ['', '   ', 'bad\nname', 'x'.repeat(256)],
  },
  EXOSCALE_DISK_SIZE: {
    good: [
      ['10', '10'],
      ['51200', '51200'],
      ['+200', '200'],
    ],
    bad: ['9', '51201', '50.5', 'fifty', '-10', ''],
  },
  EXOSCALE_OLLAMA_KEY: {
    good: [['abcdefghijklmnop', 'abcdefghijklmnop']],
    bad: ['short', 'has space in it 1234', 'quote"inside-the-key', ''],
  },
  EXOSCALE_IDLE_TIMEOUT: {
    good: [
      ['20', '20'],
      ['5', '5'],
      ['1800', '1800'],
    ],
    bad: ['banana', '4', '0', '-1', '1.5', '20s', '2592001', ''],
  },
  EXOLLAMA_IDLE_ACTION: {
    good: [
      ['destroy', 'destroy'],
      ['STOP', 'stop'],
    ],
    bad: ['delete', 'pause', ''],
  },
  EXOLLAMA_DESTROY_AFTER: { good: [['3600', '3600']], bad: ['59', 'never', ''] },
  EXOLLAMA_MODEL: {
    good: [
      ['qwen2.5:0.5b', 'qwen2.5:0.5b'],
      ['qwen2.5:0.5b, llama3.2 ,', 'qwen2.5:0.5b,llama3.2'],
      ['', ''],
      ['library/llama3:8b-instruct-q4_0', 'library/llama3:8b-instruct-q4_0'],
    ],
    bad: ['bad model', 'model:', ':tag', 'a/b/c/d'],
  },
  EXOLLAMA_WAKE_TIMEOUT: { good: [['60', '60']], bad: ['9', '86401', 'soon'] },
  EXOLLAMA_MAX_LIFETIME: { good: [['7200', '7200']], bad: ['59', 'forever'] },
  EXOLLAMA_ALLOWED_CIDRS: {
    good: [
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['0.0.0.0/0,203.0.113.0/24', '0.0.0.0/0,203.0.113.0/24'],
      ['203.0.113.7', '203.0.113.7/32'],
      ['10.1.2.3/8', '10.0.0.0/8'],
      ['2001:DB8::1/32', '2001:db8::/32'],
      ['::/0', '::/0'],
    ],
    bad: ['', 'everyone', '10.0.0.0/33', '300.1.1.1/8', '2001:db8::/129', '10.0.0.0/8,nope'],
  },
  EXOLLAMA_NAME: {
    good: [
      ['exollama', 'exollama'],
      ['team-a-7', 'team-a-7'],
    ],
    bad: ['', 'UPPER', '-lead', 'trail-', 'has_underscore', 'a'.repeat(33), 'dot.name'],
  },
  EXOLLAMA_LISTEN: {
    good: [
      ['127.0.0.1:11434', '127.0.0.1:11434'],
      ['[::1]:8080', '[::1]:8080'],
      ['localhost:0', 'localhost:0'],
      ['0.0.0.0:11434', '0.0.0.0:11434'],
    ],
    bad: ['11434', '127.0.0.1', '127.0.0.1:65536', ':11434', '::1:80', 'host name:80', ''],
  },
  EXOLLAMA_DATA_DIR: { good: [['/var/lib/exollama', '/var/lib/exollama']], bad: ['', '  '] },
  EXOLLAMA_OLLAMA_IMAGE_TAG: {
    good: [
      ['0.32.15', '0.32.15'],
      ['0.6.2-rocm', '0.6.2-rocm'],
    ],
    bad: ['', 'has space', 'tag:with:colons', '.dot-first'],
  },
  EXOLLAMA_KEEP_ALIVE: {
    good: [
      ['5m', '5m'],
      ['-1', '-1'],
      ['1h30m', '1h30m'],
      ['300', '300'],
    ],
    bad: ['forever', '5 minutes', '', '1d'],
  },
  EXOLLAMA_MIN_OLLAMA_VERSION: {
    good: [
      ['0.17.1', '0.17.1'],
      ['v0.20.0', '0.20.0'],
    ],
    bad: ['0.17', 'latest', '1.2.3.4', ''],
  },
  EXOLLAMA_WATCHDOG_GRACE: { good: [['600', '600']], bad: ['59', '86401', 'ten'] },
  EXOLLAMA_MAX_HELD_REQUESTS: { good: [['1', '1']], bad: ['0', '100001', 'many'] },
  EXOLLAMA_MAX_BODY_BYTES: {
    good: [
      ['33554432', '33554432'],
      ['32MiB', '33554432'],
      ['1k', '1024'],
      ['1GB', '1000000000'],
    ],
    bad: ['1023', '2GiB', '12 parsecs', '1.5', ''],
  },
  EXOLLAMA_ALLOW_MODEL_ADMIN: {
    good: [
      ['true', 'true'],
      ['0', 'false'],
      ['Yes', 'true'],
      ['off', 'false'],
    ],
    bad: ['maybe', '2', ''],
  },
  EXOLLAMA_ALLOWED_HOSTS: {
    good: [
      ['myhost.local,192.168.1.10', 'myhost.local,192.168.1.10'],
      ['Example.COM:8080', 'example.com:8080'],
      ['[::1]:11434', '[::1]:11434'],
      ['', ''],
    ],
    bad: ['http://x', 'bad host', 'x:99999', 'under_score.com'],
  },
  EXOLLAMA_ALLOWED_ORIGINS: {
    good: [
      [
        'http://localhost:3000,https://app.example.com',
        'http://localhost:3000,https://app.example.com',
      ],
      ['https://app.example.com/', 'https://app.example.com'],
      ['https://x.example:443', 'https://x.example'],
      ['*', '*'],
      ['chrome-extension://abcdef', 'chrome-extension://abcdef'],
      ['http://localhost:*', 'http://localhost:*'],
    ],
    bad: ['localhost:3000', 'https://x.example/path', 'javascript:alert(1)'],
  },
  EXOLLAMA_RATE_LIMIT: {
    good: [
      ['0', '0'],
      ['600', '600'],
    ],
    bad: ['-1', 'fast', '1.5'],
  },
  EXOLLAMA_CONCURRENCY_LIMIT: {
    good: [
      ['0', '0'],
      ['500', '500'],
    ],
    bad: ['-5', 'lots'],
  },
  EXOLLAMA_LOG_LEVEL: {
    good: [
      ['debug', 'debug'],
      ['WARN', 'warn'],
    ],
    bad: ['verbose', 'fatal', ''],
  },
  EXOLLAMA_SHUTDOWN_GRACE: {
    good: [
      ['0', '0'],
      ['30', '30'],
    ],
    bad: ['3601', 'soon'],
  },
  EXOLLAMA_PRICE_PER_HOUR: {
    good: [
      ['0.04666', '0.04666'],
      ['0', '0'],
      ['2', '2'],
    ],
    bad: ['-0.1', 'cheap', '1e3', ''],
  },
  EXOLLAMA_CURRENCY: {
    good: [
      ['chf', 'CHF'],
      ['EUR', 'EUR'],
    ],
    bad: ['GBP', ''],
  },
}

describe('the settings list', () => {
  it('has a test case for every setting and names each entry after its key', () => {
    expect(Object.keys(CASES).sort()).toEqual([...SETTING_NAMES].sort())
    for (const name of SETTING_NAMES) expect(SETTINGS[name].name).toBe(name)
  })

  it('keeps the names and defaults of DESIGN §2 exactly', () => {
    const design: Record<string, string | null> = {
      EXOSCALE_API_KEY: null,
      EXOSCALE_API_SECRET: null,
      EXOSCALE_API_ENDPOINT: 'https://api-{zone}.exoscale.com/v2',
      EXOSCALE_ZONE: 'ch-gva-2',
      EXOSCALE_INSTANCE_TYPE: 'standard.medium',
      EXOSCALE_TEMPLATE: 'Linux Ubuntu 22.04 LTS 64-bit',
      EXOSCALE_DISK_SIZE: '50',
      EXOSCALE_IDLE_TIMEOUT: '1800',
      EXOLLAMA_IDLE_ACTION: 'destroy',
      EXOLLAMA_DESTROY_AFTER: '86400',
      EXOLLAMA_MODEL: null,
      EXOLLAMA_WAKE_TIMEOUT: '900',
      EXOLLAMA_MAX_LIFETIME: '86400',
      EXOLLAMA_ALLOWED_CIDRS: '0.0.0.0/0',
      EXOLLAMA_NAME: 'exollama',
      EXOLLAMA_LISTEN: '127.0.0.1:11434',
    }
    for (const [name, text] of Object.entries(design)) {
      expect(settingDefinition(name as SettingName).defaultText, name).toBe(text)
    }
    expect(SETTINGS.EXOSCALE_OLLAMA_KEY.default).toBeUndefined()
    expect(SETTINGS.EXOLLAMA_OLLAMA_IMAGE_TAG.default).toBe('0.32.15')
    expect(SETTINGS.EXOLLAMA_WATCHDOG_GRACE.default).toBe(600)
    expect(SETTINGS.EXOLLAMA_ALLOW_MODEL_ADMIN.default).toBe(false)
    expect(SETTINGS.EXOLLAMA_RATE_LIMIT.default).toBe(0)
  })

  it('gives every setting a description, an expected text and a valid default', () => {
    for (const name of SETTING_NAMES) {
      const def = settingDefinition(name)
      expect(def.description.length, name).toBeGreaterThan(10)
      expect(def.expected.length, name).toBeGreaterThan(3)
      if (def.default !== undefined && name !== 'EXOLLAMA_DATA_DIR') {
        // The default's text parses back to the same text: defaults obey their own rules.
        const text = def.format(def.default as never)
        if (text !== '')
          expect(formatSetting(name, parseSetting(name, text) as never), name).toBe(text)
      }
    }
  })

  it('marks the credentials and the Ollama key secret, and nothing else', () => {
    const secrets = SETTING_NAMES.filter((n) => settingDefinition(n).secret)
    expect(secrets).toEqual(['EXOSCALE_API_KEY', 'EXOSCALE_API_SECRET', 'EXOSCALE_OLLAMA_KEY'])
  })

  it('says which settings need a restart', () => {
    const restart = SETTING_NAMES.filter((n) => settingDefinition(n).restart)
    expect(restart).toEqual(['EXOLLAMA_LISTEN', 'EXOLLAMA_DATA_DIR', 'EXOLLAMA_LOG_LEVEL'])
  })
})

describe.each(SETTING_NAMES)('%s', (name) => {
  const def = settingDefinition(name)
  const cases = CASES[name]

  it.each(cases.good)('accepts %j as %j', (input, canonical) => {
    const value = parseSetting(name, input)
    if (name === 'EXOLLAMA_DATA_DIR') {
      expect(value).toBe(canonical)
      return
    }
    expect(formatSetting(name, value)).toBe(canonical)
    if (def.secret) expect(value).toBeInstanceOf(Secret)
  })

  it.each(cases.bad)(
    'rejects %j with one line naming the setting and the kind of value',
    (input) => {
      let caught: unknown
      try {
        parseSetting(name, input)
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(InvalidSettingError)
      const error = caught as InvalidSettingError
      expect(error.code).toBe('invalid_setting')
      expect(error.kind).toBe('config')
      expect(error.message).not.toContain('\n')
      expect(error.message.startsWith(`${name}: `)).toBe(true)
      expect(error.message).toContain(`is not valid: expected ${def.expected}`)
      if (def.secret) {
        if (input.length > 0) expect(error.message).not.toContain(input)
        expect(error.message).toContain('the value is not valid')
      } else {
        expect(error.message).toContain(JSON.stringify(input.slice(0, 60)).slice(0, 20))
      }
    },
  )
})

describe('error messages', () => {
  it('match the documented example exactly', () => {
    expect(() => parseSetting('EXOSCALE_IDLE_TIMEOUT', 'banana')).toThrow(
      new InvalidSettingError({
        setting: 'EXOSCALE_IDLE_TIMEOUT',
        raw: 'banana',
        expected: 'an integer number of seconds between 5 and 2592000',
        secret: false,
      }),
    )
    try {
      parseSetting('EXOSCALE_IDLE_TIMEOUT', 'banana')
    } catch (error) {
      expect((error as Error).message).toBe(
        'EXOSCALE_IDLE_TIMEOUT: "banana" is not valid: expected an integer number of seconds between 5 and 2592000',
      )
    }
  })

  it('stay one line and short for hostile input', () => {
    const hostile = `12\n\r\u001b[31m${'x'.repeat(500)}`
    try {
      parseSetting('EXOSCALE_DISK_SIZE', hostile)
      expect.unreachable()
    } catch (error) {
      const message = (error as Error).message
      expect(message).not.toMatch(/[\n\r]/)
      expect(message.includes(String.fromCharCode(27))).toBe(false)
      expect(message.length).toBeLessThan(250)
    }
  })

  it('name the origin of an environment value', () => {
    expect(() => parseSetting('EXOSCALE_ZONE', 'mars-1', 'environment')).toThrow(
      'EXOSCALE_ZONE: "mars-1" is not valid: expected a zone such as ch-gva-2 (one of at-vie-1, at-vie-2, bg-sof-1, ch-dk-2, ch-gva-2, de-fra-1, de-muc-1, hr-zag-1) (set in the environment)',
    )
  })

  it('reject values that are not text, numbers, booleans or lists', () => {
    expect(() => parseSetting('EXOSCALE_DISK_SIZE', { size: 5 })).toThrow(/"object" is not valid/)
    expect(() => parseSetting('EXOSCALE_DISK_SIZE', null)).toThrow(/"null" is not valid/)
    expect(parseSetting('EXOSCALE_DISK_SIZE', 60)).toBe(60)
    expect(parseSetting('EXOLLAMA_ALLOW_MODEL_ADMIN', true)).toBe(true)
    expect(parseSetting('EXOLLAMA_MODEL', ['a', 'b'])).toEqual(['a', 'b'])
  })
})

describe('secret values', () => {
  it('never print, serialise or inspect', () => {
    const secret = parseSetting('EXOSCALE_API_SECRET', 'canary-secret-value-123')
    expect(JSON.stringify({ secret })).not.toContain('canary')
    expect(inspect({ secret })).not.toContain('canary')
    expect(`${String(secret)}`).not.toContain('canary')
    expect(secret.reveal()).toBe('canary-secret-value-123')
  })
})

describe('documentation', () => {
  it('mentions every setting in the config README', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8')
    for (const name of SETTING_NAMES) expect(readme, name).toContain(name)
  })
})
