import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import { Secret } from '../../src/shared/secret.js'
import {
  BOOT_SCRIPT,
  USER_DATA_LIMIT,
  UserDataTooLargeError,
  VM_PATHS,
  WATCHDOG_SCRIPT,
  buildUserData,
  generateInstanceCredentials,
  type InstanceCredentials,
  type RecipeSettings,
} from '../../src/recipe/index.js'
import { cloudConfigErrors, decodeAndParse, fileContent } from './helpers/cloud-config.js'

let creds: InstanceCredentials

beforeAll(async () => {
  creds = await generateInstanceCredentials()
})

function settings(overrides: Partial<RecipeSettings> = {}): RecipeSettings {
  return {
    name: 'exollama',
    ollamaKey: creds.ollamaKey,
    tls: { certPem: creds.certPem, keyPem: creds.keyPem },
    gpu: false,
    idleTimeoutS: 1800,
    maxLifetimeS: 86_400,
    ...overrides,
  }
}

const CUSTOM_KEY = new Secret('my-own_Key-0123456789abcdefXYZ')
const MODELS = [
  'qwen2.5:0.5b',
  'library/llama3.2:3b',
  'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M',
]
const CIDRS = ['203.0.113.0/24', '198.51.100.7/32', '2001:db8::/32']

const variants = [false, true].flatMap((gpu) =>
  (['22.04', '24.04'] as const).flatMap((ubuntu) =>
    [false, true].flatMap((preload) =>
      [false, true].map((custom) => ({
        label: `${gpu ? 'GPU' : 'CPU'} ${ubuntu}${preload ? ' +models' : ''}${custom ? ' +custom CIDRs/key' : ''}`,
        gpu,
        ubuntu,
        preload,
        custom,
      })),
    ),
  ),
)

describe('buildUserData across variants', () => {
  it.each(variants)('$label: schema-valid, round-trips, fits, wires the files', (v) => {
    const input = settings({
      gpu: v.gpu,
      ubuntu: v.ubuntu,
      ...(v.preload && { preloadModels: MODELS }),
      ...(v.custom && { allowedCidrs: CIDRS, ollamaKey: CUSTOM_KEY }),
    })
    const key = input.ollamaKey.reveal()
    const out = buildUserData(input)

    // Encoding: one padded base64 line, within the limit with margin.
    expect(out.userData).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    expect(out.userData.length % 4).toBe(0)
    expect(out.base64Length).toBe(out.userData.length)
    expect(out.base64Length).toBeLessThan(USER_DATA_LIMIT * 0.6)

    // Decodes (base64 → gunzip → YAML 1.1) to the same document.
    const decoded = decodeAndParse(out.userData)
    expect(decoded.text).toBe(out.cloudConfig)
    expect(decoded.text.startsWith('#cloud-config\n')).toBe(true)
    expect(decoded.doc).toEqual(parse(out.cloudConfig, { version: '1.1' }))
    expect(decoded.doc).toEqual(parse(out.cloudConfig, { version: '1.2' }))

    // cloud-init's own schema.
    expect(cloudConfigErrors(decoded.doc)).toEqual([])

    // YAML 1.1 hazards: permissions stay strings, and exactly these files are written.
    const perms = Object.fromEntries(
      [...decoded.files.values()].map((f) => [f.path, f.permissions]),
    )
    expect(perms).toEqual({
      [VM_PATHS.recipeEnv]: '0644',
      [VM_PATHS.tlsCert]: '0644',
      [VM_PATHS.tlsKey]: '0600',
      [VM_PATHS.nginxConf]: '0600',
      [VM_PATHS.bootScript]: '0755',
      [VM_PATHS.watchdogScript]: '0755',
      [VM_PATHS.bootUnit]: '0644',
      [VM_PATHS.watchdogService]: '0644',
      [VM_PATHS.watchdogTimer]: '0644',
      [VM_PATHS.dockerDropIn]: '0644',
    })
    expect(out.cloudConfig).toContain("permissions: '0600'")

    // nginx: the key is the compared value; the cert/key it references are written; no other include.
    const nginx = fileContent(decoded, VM_PATHS.nginxConf)
    expect(nginx).toMatch(new RegExp(`map \\$http_x_ollama_key [^{]*\\{[^}]*${key}`))
    expect(nginx).toMatch(new RegExp(`map \\$http_authorization [^{]*\\{[^}]*${key}`))
    const referenced = [...nginx.matchAll(/^\s*(ssl_certificate|ssl_certificate_key)\s+(\S+);/gm)]
    expect(referenced.map((m) => m[2])).toEqual([VM_PATHS.tlsCert, VM_PATHS.tlsKey])
    for (const m of referenced) expect(decoded.files.has(m[2]!)).toBe(true)
    expect(nginx).not.toMatch(/^\s*include\s/m)
    expect(nginx).toContain('listen 11435 ssl http2;')
    expect(nginx).not.toMatch(/http2 on/)
    if (v.custom) {
      for (const c of CIDRS) expect(nginx).toContain(`    ${c} 1;`)
    } else {
      expect(nginx).not.toContain('geo ')
    }

    // The TLS pair written is the generated one (canonical PEM).
    expect(new X509Certificate(fileContent(decoded, VM_PATHS.tlsCert)).fingerprint256).toBe(
      creds.fingerprint256,
    )

    // The scripts are the tested ones, byte for byte.
    expect(fileContent(decoded, VM_PATHS.bootScript)).toBe(BOOT_SCRIPT)
    expect(fileContent(decoded, VM_PATHS.watchdogScript)).toBe(WATCHDOG_SCRIPT)

    // Settings reach the VM through recipe.env only.
    const env = fileContent(decoded, VM_PATHS.recipeEnv)
    expect(env).toContain(`EXOLLAMA_GPU='${v.gpu ? 1 : 0}'`)
    expect(env).toContain(`EXOLLAMA_UBUNTU='${v.ubuntu}'`)
    expect(env).toContain(`EXOLLAMA_OLLAMA_IMAGE='ollama/ollama:0.32.15'`)
    expect(env).toContain(`EXOLLAMA_PRELOAD_MODELS='${v.preload ? MODELS.join(' ') : ''}'`)
    expect(env).toContain(`EXOLLAMA_MAX_LIFETIME='86400'`)
    expect(env).not.toContain(key)

    // Docker CE from Docker's repository, by key id (no inline key: budget).
    expect(decoded.doc.apt).toEqual({
      sources: {
        'docker.list': {
          source:
            'deb [arch=amd64 signed-by=$KEY_FILE] https://download.docker.com/linux/ubuntu $RELEASE stable',
          keyid: '9DC858229FC7DD38854AE2D88D81803C0EBFCD88',
          keyserver: 'keyserver.ubuntu.com',
        },
      },
    })
    expect(decoded.doc.runcmd).toEqual([[VM_PATHS.bootScript, 'first-boot']])
    if (v.gpu) {
      expect(decoded.doc.power_state).toMatchObject({
        mode: 'reboot',
        condition: ['test', '-f', VM_PATHS.rebootMarker],
      })
    } else {
      expect(decoded.doc.power_state).toBeUndefined()
    }
    // Secrets appear only where they are needed.
    expect(out.cloudConfig.split(key).length - 1).toBe(2)
    expect(out.cloudConfig.split(creds.keyPem.reveal().split('\n')[1]!).length - 1).toBe(1)
  })

  // cloud-init itself reads user-data with PyYAML (YAML 1.1): where it is installed, check that
  // it sees exactly the document the yaml library sees.
  const pyyaml = spawnSync('python3', ['-c', 'import yaml']).status === 0
  it.skipIf(!pyyaml)('reads the same under PyYAML, the parser cloud-init uses', () => {
    const docs = [false, true].map((gpu) =>
      buildUserData(settings({ gpu, preloadModels: MODELS, allowedCidrs: CIDRS })),
    )
    const script =
      'import sys, json, yaml; print(json.dumps([yaml.safe_load(d) for d in json.load(sys.stdin)]))'
    const result = spawnSync('python3', ['-c', script], {
      input: JSON.stringify(docs.map((d) => decodeAndParse(d.userData).text)),
      encoding: 'utf8',
    })
    expect(result.stderr).toBe('')
    const fromPython = JSON.parse(result.stdout) as unknown[]
    expect(fromPython).toEqual(docs.map((d) => decodeAndParse(d.userData).doc))
  })

  it('is pure: the same settings give the same bytes', () => {
    const a = buildUserData(settings({ gpu: true, preloadModels: MODELS }))
    const b = buildUserData(settings({ gpu: true, preloadModels: MODELS }))
    expect(b.userData).toBe(a.userData)
    expect(b.cloudConfig).toBe(a.cloudConfig)
  })

  it('applies the documented defaults', () => {
    const env = fileContent(decodeAndParse(buildUserData(settings()).userData), VM_PATHS.recipeEnv)
    expect(env).toContain("EXOLLAMA_KEEP_ALIVE='30m'")
    expect(env).toContain("EXOLLAMA_WATCHDOG_GRACE='600'")
    expect(env).toContain("EXOLLAMA_UBUNTU='22.04'")
    expect(env).toContain("EXOLLAMA_NVIDIA_DRIVER='580-server'")
    const custom = fileContent(
      decodeAndParse(
        buildUserData(
          settings({
            keepAlive: -1,
            watchdogGraceS: 0,
            ollamaImageTag: '0.33.0-rc2',
            idleTimeoutS: 20,
          }),
        ).userData,
      ),
      VM_PATHS.recipeEnv,
    )
    expect(custom).toContain("EXOLLAMA_KEEP_ALIVE='-1'")
    expect(custom).toContain("EXOLLAMA_WATCHDOG_GRACE='0'")
    expect(custom).toContain("EXOLLAMA_IDLE_TIMEOUT='20'")
    expect(custom).toContain("EXOLLAMA_OLLAMA_IMAGE='ollama/ollama:0.33.0-rc2'")
  })

  it('refuses user-data over the limit with a typed error naming size and limit', () => {
    // Thousands of distinct networks do not compress: the only way to blow the budget.
    const cidrs = Array.from({ length: 5000 }, (_, i) => {
      const x = (i * 2654435761) >>> 0
      return `${((x >>> 24) % 223) + 1}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}/32`
    })
    let error: unknown
    try {
      buildUserData(settings({ allowedCidrs: cidrs }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(UserDataTooLargeError)
    const e = error as UserDataTooLargeError
    expect(e.code).toBe('user_data_too_large')
    expect(e.kind).toBe('config')
    expect(e.limit).toBe(32768)
    expect(e.size).toBeGreaterThan(32768)
    expect(e.message).toContain(String(e.size))
    expect(e.message).toContain('32768')
  })
})
