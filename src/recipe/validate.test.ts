import { describe, expect, it } from 'vitest'
import { Secret } from '../shared/secret.js'
import { RecipeSettingError } from './errors.js'
import {
  validateCidr,
  validateImageTag,
  validateInstanceName,
  validateKeepAlive,
  validateModelName,
  validateNvidiaDriver,
  validateOllamaKey,
  validateSeconds,
} from './validate.js'

/** Every accepted value must consist of characters that are inert in shell, YAML and nginx. */
const INERT = /^[A-Za-z0-9._:/-]*$/

function rejects(fn: () => unknown, setting: string | RegExp): RecipeSettingError {
  let error: unknown
  try {
    fn()
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(RecipeSettingError)
  const e = error as RecipeSettingError
  expect(e.code).toBe('recipe_invalid_setting')
  expect(e.kind).toBe('config')
  expect(e.setting).toMatch(setting)
  expect(e.message.split('\n')).toHaveLength(1)
  return e
}

describe('validateModelName', () => {
  it.each([
    'qwen2.5:0.5b',
    'llama3.2',
    'library/llama3.2:3b',
    'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M',
    'registry.example.com:5000/team/model:v1',
    'nomic-embed-text:latest',
    'gpt-oss:20b',
    'model:_tag',
  ])('accepts %s', (name) => {
    expect(validateModelName(name)).toBe(name)
    expect(name).toMatch(INERT)
  })

  it.each([
    'qwen; rm -rf /',
    'qwen2.5:0.5b; rm -rf /',
    'a"b',
    "a'b",
    'a\nb',
    'qwen\r',
    '$(reboot)',
    '`reboot`',
    'a b',
    '../etc/passwd',
    'a/../b',
    '-rf',
    ':tag',
    'model:',
    'a/b/c/d',
    'x'.repeat(81),
    '',
    'mödel',
    'model:t${IFS}ag',
    'model#x',
    'model\\x',
  ])('refuses %j with a one-line message that shows the value safely', (name) => {
    const e = rejects(() => validateModelName(name, 'preloadModels[0]'), 'preloadModels[0]')
    expect(e.message).toContain('is not an Ollama model name')
    expect(e.message).not.toContain('\n')
  })
})

describe('validateOllamaKey', () => {
  it('accepts base64url keys of 16 to 256 characters', () => {
    for (const key of [
      'abcdefghijklmnop',
      'A-b_C-d_E-f_G-h_0123',
      'x'.repeat(10) + 'abcdefghij'.repeat(24),
    ]) {
      expect(validateOllamaKey(new Secret(key))).toBe(key)
    }
  })

  it.each([
    ['too short', 'abcdefghijklmno'],
    ['a space', 'abcdefgh ijklmnopqr'],
    ['a tilde (a regex in nginx maps)', '~abcdefghijklmnopq'],
    ['a quote', 'abcdefgh"ijklmnopq'],
    ['a semicolon', 'abcdefgh;ijklmnopq'],
    ['a dollar', 'abcdefgh$ijklmnopq'],
    ['a newline', 'abcdefgh\nijklmnopq'],
    ['a brace', 'abcdefgh}ijklmnopq'],
    ['too long', 'ab'.repeat(129)],
    ['no randomness', 'aaaaaaaaaaaaaaaaaaaa'],
    ['non-ASCII', 'abcdefghijklmnopé'],
  ])('refuses a key with %s, without echoing it', (_, key) => {
    const e = rejects(() => validateOllamaKey(new Secret(key)), 'ollamaKey')
    expect(e.message).not.toContain(key)
  })
})

describe('validateImageTag', () => {
  it.each(['0.32.15', '0.33.0-rc2', 'latest', '0.6.2-rocm'])('accepts %s', (tag) => {
    expect(validateImageTag(tag)).toBe(tag)
  })
  it.each([
    '',
    '0.32.15 --privileged',
    '0.32.15;id',
    '$(id)',
    '-v',
    '.hidden',
    'a'.repeat(129),
    'tag@sha256:00',
    '0.32.15\n',
  ])('refuses %j', (tag) => {
    rejects(() => validateImageTag(tag), 'ollamaImageTag')
  })
})

describe('validateKeepAlive', () => {
  it.each([
    ['30m', '30m'],
    ['1h30m', '1h30m'],
    ['-1', '-1'],
    ['0', '0'],
    ['2.5h', '2.5h'],
    ['-1m', '-1m'],
    [3600, '3600'],
    [-1, '-1'],
  ])('accepts %j as %s', (input, out) => {
    expect(validateKeepAlive(input)).toBe(out)
  })
  it.each(['', '30 m', '30x', '5m; reboot', 'forever', '1e9', 1.5, Number.NaN, '$(id)'])(
    'refuses %j',
    (v) => {
      rejects(() => validateKeepAlive(v), 'keepAlive')
    },
  )
})

describe('validateCidr', () => {
  it.each(['0.0.0.0/0', '203.0.113.0/24', '198.51.100.7/32', '2001:db8::/32', '::/0'])(
    'accepts %s',
    (c) => {
      expect(validateCidr(c)).toBe(c)
    },
  )
  it.each([
    '203.0.113.0',
    '203.0.113.0/33',
    '256.0.0.0/8',
    '10.0.0.0/8; deny',
    '2001:db8::/129',
    'all',
    ' 10.0.0.0/8',
    '10.0.0.0/8\n',
  ])('refuses %j', (c) => {
    rejects(() => validateCidr(c), 'allowedCidrs')
  })
})

describe('other settings', () => {
  it('instance names', () => {
    expect(validateInstanceName('exollama')).toBe('exollama')
    expect(validateInstanceName('my-llm-2')).toBe('my-llm-2')
    for (const bad of ['', '-x', 'x-', 'a b', 'a;b', 'a'.repeat(64), 'ä']) {
      rejects(() => validateInstanceName(bad), 'name')
    }
  })

  it('seconds', () => {
    expect(validateSeconds(20, 'idleTimeoutS', 1, 100)).toBe(20)
    for (const bad of [0, 101, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      rejects(() => validateSeconds(bad, 'idleTimeoutS', 1, 100), 'idleTimeoutS')
    }
  })

  it('NVIDIA driver branches', () => {
    for (const ok of ['550', '580-server', '580-server-open', '570-open']) {
      expect(validateNvidiaDriver(ok)).toBe(ok)
    }
    for (const bad of ['535-server', '470', '580-server;id', 'latest', '']) {
      rejects(() => validateNvidiaDriver(bad), 'nvidiaDriver')
    }
  })
})
