import type { CallOptions } from './call-options.js'
import { segment, type ExoscaleHttp } from './http.js'
import { operationOf } from './operations.js'
import type {
  AddSecurityGroupRuleRequest,
  CreateSecurityGroupRequest,
  JsonResponseBody,
  ListSecurityGroupsQuery,
  Operation,
  SecurityGroup,
} from './schema-types.js'

export interface ListSecurityGroupsOptions extends CallOptions, ListSecurityGroupsQuery {}

/** GET /security-group (`visibility` private for the organization's own groups). */
export async function listSecurityGroups(
  http: ExoscaleHttp,
  options: ListSecurityGroupsOptions = {},
): Promise<SecurityGroup[]> {
  const body = await http.request<JsonResponseBody<'list-security-groups'>>({
    method: 'GET',
    path: '/security-group',
    query: { visibility: options.visibility },
    signal: options.signal,
  })
  return body?.['security-groups'] ?? []
}

/** GET /security-group/{id}, rules included. */
export async function getSecurityGroup(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<SecurityGroup> {
  const body = await http.request<JsonResponseBody<'get-security-group'>>({
    method: 'GET',
    path: `/security-group/${segment(id)}`,
    signal: options.signal,
  })
  return body ?? {}
}

/** POST /security-group. Never retried; `reference.id` of the finished operation is the group id. */
export async function createSecurityGroup(
  http: ExoscaleHttp,
  request: CreateSecurityGroupRequest,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'create-security-group'>>({
    method: 'POST',
    path: '/security-group',
    body: request,
    signal: options.signal,
  })
  return operationOf(body)
}

/** DELETE /security-group/{id}. */
export async function deleteSecurityGroup(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'delete-security-group'>>({
    method: 'DELETE',
    path: `/security-group/${segment(id)}`,
    signal: options.signal,
  })
  return operationOf(body)
}

/**
 * POST /security-group/{id}/rules (`flow-direction`, `protocol`, `network`, `start-port`,
 * `end-port`, `description`, …). Never retried. Note: one egress rule turns egress into an
 * allow-list; exollama only adds ingress rules.
 */
export async function addSecurityGroupRule(
  http: ExoscaleHttp,
  securityGroupId: string,
  rule: AddSecurityGroupRuleRequest,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'add-rule-to-security-group'>>({
    method: 'POST',
    path: `/security-group/${segment(securityGroupId)}/rules`,
    body: rule,
    signal: options.signal,
  })
  return operationOf(body)
}

/** DELETE /security-group/{id}/rules/{rule-id}. */
export async function deleteSecurityGroupRule(
  http: ExoscaleHttp,
  securityGroupId: string,
  ruleId: string,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'delete-rule-from-security-group'>>({
    method: 'DELETE',
    path: `/security-group/${segment(securityGroupId)}/rules/${segment(ruleId)}`,
    signal: options.signal,
  })
  return operationOf(body)
}
