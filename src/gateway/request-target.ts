/**
 * Request-target safety (reliability-security §2.8). Node hands raw targets through unchanged:
 * `//evil/x`, `http://evil/x`, `\\evil`, `/api/../x`, `/api/%2e%2e/x`. The gateway accepts only
 * origin-form targets whose path is already canonical, so the path it matches against the
 * allowlist is exactly the path the upstream sees, and the upstream URL is always
 * `Upstream.origin + path (+ query)`.
 */
export type TargetCheck =
  | { ok: true; path: string; query: string }
  | { ok: false; code: 'invalid_request_target'; message: string }

function reject(message: string): TargetCheck {
  return { ok: false, code: 'invalid_request_target', message }
}

const SLASH = 0x2f
const DOT = 0x2e
const PERCENT = 0x25
const BACKSLASH = 0x5c
const HASH = 0x23

function hex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/**
 * Splits and checks a raw request target in one pass; never decodes, never normalises. Refused:
 * anything but origin-form, fragments, characters outside printable ASCII, backslashes, empty
 * segments ("//"), dot segments, malformed escapes and escapes of ".", "/", "\\" or NUL.
 */
export function checkRequestTarget(raw: string | undefined): TargetCheck {
  if (!raw || raw.charCodeAt(0) !== SLASH) {
    return reject('the request target must be an origin-form path starting with "/"')
  }
  const n = raw.length
  let end = raw.indexOf('?')
  if (end < 0) end = n
  let segmentStart = 1
  for (let i = 1; i <= end; i++) {
    const c = i < end ? raw.charCodeAt(i) : SLASH // the path's end closes its last segment
    if (c === SLASH) {
      const len = i - segmentStart
      if (len === 0 && i < end)
        return reject('the request path must not contain empty segments ("//")')
      if (
        (len === 1 || len === 2) &&
        raw.charCodeAt(segmentStart) === DOT &&
        (len === 1 || raw.charCodeAt(segmentStart + 1) === DOT)
      ) {
        return reject('the request path must not contain dot segments')
      }
      segmentStart = i + 1
    } else if (c === PERCENT) {
      if (!hex(raw.charCodeAt(i + 1)) || !hex(raw.charCodeAt(i + 2)) || i + 2 >= end) {
        return reject('the request path has a malformed % escape')
      }
      const byte = parseInt(raw.slice(i + 1, i + 3), 16)
      if (byte === DOT || byte === SLASH || byte === BACKSLASH || byte === 0) {
        return reject('the request path must not contain encoded dots, slashes or backslashes')
      }
      i += 2
    } else if (c === BACKSLASH) {
      return reject('the request path must not contain backslashes')
    } else if (c === HASH) {
      return reject('the request target must not contain a fragment')
    } else if (c < 0x21 || c > 0x7e) {
      return reject('the request path contains invalid characters')
    }
  }
  if (end === n) return { ok: true, path: raw, query: '' }
  for (let j = end + 1; j < n; j++) {
    const c = raw.charCodeAt(j)
    if (c === HASH) return reject('the request target must not contain a fragment')
    if (c < 0x21 || c > 0x7e) return reject('the query string contains invalid characters')
  }
  return { ok: true, path: raw.slice(0, end), query: raw.slice(end + 1) }
}
