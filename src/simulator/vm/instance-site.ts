import path from 'node:path'
import type { CloudFile } from './cloud-config.js'
import { parseNginxConf, walkNginxConf, type NginxDirective } from './nginx-conf.js'

/**
 * What the emulated VM learns from the nginx site config(s) the user-data writes: the files
 * they reference (which must come from write_files), where the boot status is served from,
 * the listen addresses and upstreams to move onto the test machine. Nothing here knows the
 * recipe's constants: everything is read from the config, as nginx on the VM would.
 */

/** Where Ubuntu's stock nginx.conf looks for sites (`include` lines of its `http {}`). */
const SITE_PATH = /^\/etc\/nginx\/(?:conf\.d\/[^/]+\.conf|sites-enabled\/[^/]+)$/

/** Directives whose argument names a file nginx must read when it starts. */
const REQUIRED_FILE_DIRECTIVES = new Set([
  'ssl_certificate',
  'ssl_certificate_key',
  'ssl_trusted_certificate',
  'ssl_client_certificate',
  'ssl_dhparam',
])
/** Directives whose (first) argument is a path (as relocateNginxConfig rewrites them). */
const PATH_DIRECTIVES = new Set([
  ...REQUIRED_FILE_DIRECTIVES,
  'alias',
  'root',
  'access_log',
  'error_log',
  'include',
])

/** The path an instance answers its boot status on (docs/architecture.md). */
export const BOOT_STATUS_URI = '/exollama/boot'

export interface SiteSource {
  /** The path on the VM, e.g. /etc/nginx/conf.d/exollama.conf. */
  vmPath: string
  text: string
  directives: NginxDirective[]
}

export interface FileReference {
  directive: string
  vmPath: string
  line: number
  source: string
}

export interface InstanceSite {
  sources: SiteSource[]
  /** First arguments of every `listen`. */
  listens: string[]
  /** Absolute file paths the config uses (TLS files, logs, alias targets, includes). */
  references: FileReference[]
  /** `ssl_certificate` / `ssl_certificate_key` of the (first) TLS server. */
  certPath: string | undefined
  keyPath: string | undefined
  /** The file `location = /exollama/boot` serves (its `alias`), if any. */
  bootStatusPath: string | undefined
  /** The access log written with an `if=` condition (the watchdog's activity log), if any. */
  activityLogPath: string | undefined
  /** `host:port` of every `proxy_pass http://…`. */
  upstreams: string[]
}

/** The nginx site config(s) among write_files, parsed. Empty when there is none. */
export function siteSources(files: ReadonlyMap<string, CloudFile>): SiteSource[] {
  return [...files.values()]
    .filter((f) => SITE_PATH.test(f.path))
    .map((f) => {
      const text = f.content.toString('utf8')
      return { vmPath: f.path, text, directives: parseNginxConf(text) }
    })
}

/** Reads the facts the emulated VM needs from the site sources. */
export function analyseSite(sources: readonly SiteSource[]): InstanceSite {
  const site: InstanceSite = {
    sources: [...sources],
    listens: [],
    references: [],
    certPath: undefined,
    keyPath: undefined,
    bootStatusPath: undefined,
    activityLogPath: undefined,
    upstreams: [],
  }
  for (const source of sources) {
    for (const { directive, parents } of walkNginxConf(source.directives)) {
      const first = directive.args[0]
      if (first === undefined) continue
      if (directive.name === 'listen') site.listens.push(first)
      if (PATH_DIRECTIVES.has(directive.name) && path.isAbsolute(first)) {
        site.references.push({
          directive: directive.name,
          vmPath: first,
          line: directive.line,
          source: source.vmPath,
        })
      }
      if (directive.name === 'ssl_certificate') site.certPath ??= first
      if (directive.name === 'ssl_certificate_key') site.keyPath ??= first
      if (directive.name === 'alias') {
        const location = parents.at(-1)
        if (
          location?.name === 'location' &&
          location.args[0] === '=' &&
          location.args[1] === BOOT_STATUS_URI
        ) {
          site.bootStatusPath = first
        }
      }
      if (
        directive.name === 'access_log' &&
        directive.args.some((a) => a.startsWith('if=')) &&
        path.isAbsolute(first)
      ) {
        site.activityLogPath ??= first
      }
      if (directive.name === 'proxy_pass') {
        const m = /^https?:\/\/([^/]+)/.exec(first)
        if (m?.[1]) site.upstreams.push(m[1])
      }
    }
  }
  return site
}

/**
 * The files nginx needs at start that write_files does not create, as one-line problems
 * (empty when all are there). Includes may also name stock files of the nginx package.
 */
export function missingFiles(
  site: InstanceSite,
  files: ReadonlyMap<string, CloudFile>,
  stockFileExists: (vmPath: string) => boolean,
): string[] {
  const problems: string[] = []
  for (const ref of site.references) {
    if (files.has(ref.vmPath)) continue
    if (REQUIRED_FILE_DIRECTIVES.has(ref.directive)) {
      problems.push(
        `${ref.directive} "${ref.vmPath}" (${ref.source} line ${ref.line}) is not in the user-data's write_files`,
      )
    } else if (ref.directive === 'include' && !stockFileExists(ref.vmPath)) {
      problems.push(
        `include "${ref.vmPath}" (${ref.source} line ${ref.line}) is neither in write_files nor a stock nginx file`,
      )
    }
  }
  return problems
}
