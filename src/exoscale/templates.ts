import type { CallOptions } from './call-options.js'
import { segment, type ExoscaleHttp } from './http.js'
import type {
  JsonResponseBody,
  ListTemplatesQuery,
  Template,
  TemplateVisibility,
} from './schema-types.js'
import { newestTemplateNamed, templateNotFound } from './template-selection.js'

export interface ListTemplatesOptions extends CallOptions, ListTemplatesQuery {}

/** GET /template (`visibility` public or private, `family`). There is no name filter. */
export async function listTemplates(
  http: ExoscaleHttp,
  options: ListTemplatesOptions = {},
): Promise<Template[]> {
  const body = await http.request<JsonResponseBody<'list-templates'>>({
    method: 'GET',
    path: '/template',
    query: { visibility: options.visibility, family: options.family },
    signal: options.signal,
  })
  return body?.templates ?? []
}

/** GET /template/{id}. */
export async function getTemplate(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Template> {
  const body = await http.request<JsonResponseBody<'get-template'>>({
    method: 'GET',
    path: `/template/${segment(id)}`,
    signal: options.signal,
  })
  return body ?? {}
}

/**
 * The template named `name` (or with id `name`) in the zone: public templates first, then
 * private ones; among duplicates the newest `created-at` wins. Template ids change with point
 * releases, so resolve at provision time. On a miss, exoscale_not_found lists the names seen.
 */
export async function findTemplate(
  http: ExoscaleHttp,
  zone: string,
  name: string,
  options: CallOptions = {},
): Promise<Template> {
  const seen: Template[] = []
  for (const visibility of ['public', 'private'] as const satisfies TemplateVisibility[]) {
    const templates = await listTemplates(http, { visibility, signal: options.signal })
    const found = newestTemplateNamed(templates, name)
    if (found) return found
    seen.push(...templates)
  }
  throw templateNotFound(name, zone, seen)
}
