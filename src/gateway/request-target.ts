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

// Percent-encodings that would change the path's meaning once decoded: dot, slash, backslash, NUL.
const DANGEROUS_ESCAPE = /%(?:2e|2f|5c|00)/i
// Any '%' not followed by two hex digits.
const MALFORMED_ESCAPE = /%(?![0-9a-f]{2})/i
// Printable ASCII only (no spaces, controls or raw non-ASCII bytes in the path).
const NON_PRINTABLE = /[^\x21-\x7e]/

function reject(message: string): TargetCheck {
  return { ok: false, code: 'invalid_request_target', message }
}

/** Splits and checks a raw request target; never decodes, never normalises. */
export function checkRequestTarget(raw: string | undefined): TargetCheck {
  if (!raw || raw[0] !== '/') {
    return reject('the request target must be an origin-form path starting with "/"')
  }
  const q = raw.indexOf('?')
  const path = q < 0 ? raw : raw.slice(0, q)
  const query = q < 0 ? '' : raw.slice(q + 1)
  if (raw.includes('#')) return reject('the request target must not contain a fragment')
  if (NON_PRINTABLE.test(path)) return reject('the request path contains invalid characters')
  if (path.includes('\\')) return reject('the request path must not contain backslashes')
  if (path.includes('//')) return reject('the request path must not contain empty segments ("//")')
  if (DANGEROUS_ESCAPE.test(path)) {
    return reject('the request path must not contain encoded dots, slashes or backslashes')
  }
  if (MALFORMED_ESCAPE.test(path)) return reject('the request path has a malformed % escape')
  for (const segment of path.split('/')) {
    if (segment === '.' || segment === '..') {
      return reject('the request path must not contain dot segments')
    }
  }
  if (NON_PRINTABLE.test(query)) return reject('the query string contains invalid characters')
  return { ok: true, path, query }
}
