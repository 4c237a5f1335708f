import type { components, operations } from './openapi.gen.js'

/**
 * Names for the spec types the client uses. Everything here is derived from the generated
 * openapi.gen.ts (spec/exoscale-openapi-v2.json): no field name is typed by hand.
 */
type Schemas = components['schemas']

/** The JSON request body of an operation. */
export type JsonRequestBody<Op extends keyof operations> = operations[Op] extends {
  requestBody: { content: { 'application/json': infer Body } }
}
  ? Body
  : never

/** The JSON body of an operation's 200 response. */
export type JsonResponseBody<Op extends keyof operations> = operations[Op] extends {
  responses: { 200: { content: { 'application/json': infer Body } } }
}
  ? Body
  : never

/** The query parameters of an operation. */
export type QueryParams<Op extends keyof operations> = NonNullable<
  operations[Op]['parameters']['query']
>

export type Zone = Schemas['zone']
export type ZoneName = Schemas['zone-name']
export type InstanceType = Schemas['instance-type']
export type InstanceTypeFamily = NonNullable<InstanceType['family']>
export type InstanceTypeSize = NonNullable<InstanceType['size']>
export type Template = Schemas['template']
export type TemplateVisibility = NonNullable<Template['visibility']>
export type SecurityGroup = Schemas['security-group']
export type SecurityGroupRule = Schemas['security-group-rule']
export type Instance = Schemas['instance']
export type InstanceState = Schemas['instance-state']
export type Labels = Schemas['labels']
export type Quota = Schemas['quota']
export type Operation = Schemas['operation']
export type OperationState = NonNullable<Operation['state']>
export type OperationReason = NonNullable<Operation['reason']>

export type CreateInstanceRequest = JsonRequestBody<'create-instance'>
export type StartInstanceRequest = JsonRequestBody<'start-instance'>
export type CreateSecurityGroupRequest = JsonRequestBody<'create-security-group'>
export type AddSecurityGroupRuleRequest = JsonRequestBody<'add-rule-to-security-group'>

export type ListInstancesQuery = QueryParams<'list-instances'>
export type ListTemplatesQuery = QueryParams<'list-templates'>
export type ListSecurityGroupsQuery = QueryParams<'list-security-groups'>
