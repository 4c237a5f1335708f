import { describe, expect, it } from 'vitest'
import { parseNginxConf } from './nginx-conf.js'
import {
  compileStandinSite,
  conditionHolds,
  normalizeUri,
  RequestVariables,
  selectLocation,
  StandinUnsupportedError,
  type StandinSite,
} from './standin-site.js'

const source = (text: string) => [
  { vmPath: '/etc/nginx/conf.d/t.conf', text, directives: parseNginxConf(text) },
]

const SITE = `
map $http_x_key $key_header { default 0; "~^s3cret-KEY$" 1; }
map $http_authorization $key_ok { default $key_header; "~^[Bb]earer +s3cret-KEY$" 1; }
map $uri $inference { default 0; "~^/api/(chat|generate)$" 1; }
map $request_method $plain { default no; POST yes; }
geo $allowed { default 0; 127.0.0.1 1; 10.0.0.0/8 1; 10.1.0.0/16 2; }
log_format act '$msec $status ' '$uri';
server {
    listen 11435 ssl http2;
    ssl_certificate /etc/t/c.crt;
    ssl_certificate_key /etc/t/c.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    default_type application/json;
    location = /boot { alias /var/lib/t/boot.json; error_page 404 = @booting; }
    location ~ ^/api/(me|user/) { return 403; }
    location ^~ /static/ { return 200 'static'; }
    location ~* \\.PNG$ { return 200 'png'; }
    location / {
        if ($key_ok != 1) { return 401 '{"error":"unauthorized"}\\n'; }
        access_log /var/log/t.log act if=$inference;
        proxy_pass http://127.0.0.1:11434;
        proxy_set_header Host localhost:11434;
        proxy_set_header X-Key "";
    }
    location @booting { return 503 '{"error":"booting"}\\n'; }
}
`

function vars(
  site: StandinSite,
  over: Partial<ConstructorParameters<typeof RequestVariables>[1]> = {},
) {
  return new RequestVariables(
    site,
    {
      method: 'GET',
      target: '/api/chat',
      uri: '/api/chat',
      headers: {},
      remoteAddr: '127.0.0.1',
      protocol: 'HTTP/1.1',
      ...over,
    },
    () => 1_767_225_600_123,
  )
}

describe('the stand-in interpreter', () => {
  const site = compileStandinSite(source(SITE))

  it('evaluates maps from the config: anchored, case-sensitive regexes; default chains', () => {
    expect(vars(site, { headers: { 'x-key': 's3cret-KEY' } }).get('key_ok')).toBe('1')
    expect(vars(site, { headers: { 'x-key': 's3cret-key' } }).get('key_ok')).toBe('0')
    expect(vars(site, { headers: { 'x-key': 's3cret-KEYx' } }).get('key_ok')).toBe('0')
    expect(vars(site, { headers: { authorization: 'bearer  s3cret-KEY' } }).get('key_ok')).toBe('1')
    expect(vars(site, { headers: { authorization: 'Basic s3cret-KEY' } }).get('key_ok')).toBe('0')
    // Plain map strings compare case-insensitively.
    expect(vars(site, { method: 'post' }).get('plain')).toBe('yes')
  })

  it('picks the most specific geo network', () => {
    expect(vars(site, { remoteAddr: '::ffff:127.0.0.1' }).get('allowed')).toBe('1')
    expect(vars(site, { remoteAddr: '10.1.2.3' }).get('allowed')).toBe('2')
    expect(vars(site, { remoteAddr: '10.2.2.3' }).get('allowed')).toBe('1')
    expect(vars(site, { remoteAddr: '192.168.0.1' }).get('allowed')).toBe('0')
  })

  it('formats log lines and evaluates if conditions', () => {
    const v = vars(site)
    v.status = 200
    expect(v.expand(site.logFormats.get('act') ?? '')).toBe('1767225600.123 200 /api/chat')
    const loc = selectLocation(site.server, '/api/chat')
    const step = loc?.rewrite[0]
    if (step?.kind !== 'if') throw new Error('expected the key check')
    expect(conditionHolds(step.condition, v)).toBe(true)
    expect(conditionHolds(step.condition, vars(site, { headers: { 'x-key': 's3cret-KEY' } }))).toBe(
      false,
    )
  })

  it('chooses locations in nginx order', () => {
    const pick = (uri: string) => {
      const l = selectLocation(site.server, uri)
      return l ? `${l.modifier}${l.pattern}` : undefined
    }
    expect(pick('/boot')).toBe('=/boot')
    expect(pick('/boot/')).toBe('/')
    expect(pick('/api/me')).toBe('~^/api/(me|user/)')
    expect(pick('/static/x.png')).toBe('^~/static/') // ^~ stops the regex search
    expect(pick('/img/x.png')).toBe('~*\\.PNG$')
    expect(pick('/api/tags')).toBe('/')
  })

  it('normalizes URIs as nginx does, or rejects them', () => {
    expect(normalizeUri('/api//chat?x=1')).toBe('/api/chat')
    expect(normalizeUri('/api/./x/../chat')).toBe('/api/chat')
    expect(normalizeUri('/exollama/%62oot')).toBe('/exollama/boot')
    expect(normalizeUri('/a/b/.')).toBe('/a/b/')
    expect(normalizeUri('/../etc/passwd')).toBeUndefined()
    expect(normalizeUri('/%zz')).toBeUndefined()
    expect(normalizeUri('http://x/')).toBeUndefined()
  })

  it('refuses configs it cannot run faithfully', () => {
    const wrap = (inner: string) =>
      `server { listen 1 ssl; ssl_certificate /c; ssl_certificate_key /k; ${inner} }`
    const cases = [
      wrap('location / { proxy_cache x; }'),
      wrap('rewrite ^ /x;'),
      wrap('location / { return 200 $nope; }'),
      `upstream u { server 127.0.0.1:1; } ${wrap('')}`,
      'server { listen 1; }',
      `${wrap('')} ${wrap('')}`,
    ]
    for (const text of cases) {
      expect(() => compileStandinSite(source(text))).toThrow(StandinUnsupportedError)
    }
  })
})
