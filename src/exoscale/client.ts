import { silentLogger, systemClock, type Clock, type Logger, type Secret } from '../shared/index.js'
import type { CallOptions, WaitOptions } from './call-options.js'
import { resolveBaseUrl, assertZoneName } from './endpoint.js'
import { ExoscaleHttp, type FetchFn } from './http.js'
import * as instanceTypes from './instance-types.js'
import * as instances from './instances.js'
import type { ListInstancesOptions, StartInstanceOptions } from './instances.js'
import { getOperation } from './operations.js'
import { DEFAULT_POLL_INTERVAL_MS } from './poll-interval.js'
import * as quotas from './quotas.js'
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from './retry-policy.js'
import type {
  AddSecurityGroupRuleRequest,
  CreateInstanceRequest,
  CreateSecurityGroupRequest,
  Instance,
  InstanceState,
  InstanceType,
  Operation,
  Quota,
  SecurityGroup,
  Template,
  Zone,
} from './schema-types.js'
import * as securityGroups from './security-groups.js'
import type { ListSecurityGroupsOptions } from './security-groups.js'
import { DEFAULT_EXPIRES_IN_SECONDS } from './sign.js'
import * as templates from './templates.js'
import type { ListTemplatesOptions } from './templates.js'
import {
  waitForInstanceGone,
  waitForInstanceState,
  waitForOperation,
  type WaitContext,
} from './waiting.js'
import { listZones } from './zones.js'

export interface ExoscaleClientOptions {
  apiKey: string
  apiSecret: Secret
  /** The zone (ch-gva-2, …): picks the endpoint unless `endpoint` is set. */
  zone: string
  /** EXOSCALE_API_ENDPOINT: base URL (including /v2) for EVERY call, overriding the zone's. */
  endpoint?: string | undefined
  fetch?: FetchFn | undefined
  clock?: Clock | undefined
  logger?: Logger | undefined
  /** [0, 1) source for backoff jitter. */
  random?: (() => number) | undefined
  retry?: Partial<RetryOptions> | undefined
  /** Base of the operation/instance poll schedule (3000 ms; shrink it in tests). */
  pollIntervalMs?: number | undefined
  /** Per-attempt limit for an API response (60 s). */
  requestTimeoutMs?: number | undefined
  /** How far ahead signatures expire (600 s, at most 3600). */
  expiresInSeconds?: number | undefined
}

/** The Exoscale API v2 operations exollama uses, bound to one zone (or endpoint). */
export interface ExoscaleClient {
  readonly zone: string
  /** The base URL every call goes to. */
  readonly endpoint: string

  listZones(options?: CallOptions): Promise<Zone[]>

  listInstanceTypes(options?: CallOptions): Promise<InstanceType[]>
  getInstanceType(id: string, options?: CallOptions): Promise<InstanceType>
  /** `family.size` (family defaults to standard) offered in the zone; check `.authorized`. */
  findInstanceType(name: string, options?: CallOptions): Promise<InstanceType>

  listTemplates(options?: ListTemplatesOptions): Promise<Template[]>
  getTemplate(id: string, options?: CallOptions): Promise<Template>
  /** By exact name (or id): public then private, newest `created-at` wins. */
  findTemplate(name: string, options?: CallOptions): Promise<Template>

  listSecurityGroups(options?: ListSecurityGroupsOptions): Promise<SecurityGroup[]>
  getSecurityGroup(id: string, options?: CallOptions): Promise<SecurityGroup>
  createSecurityGroup(
    request: CreateSecurityGroupRequest,
    options?: CallOptions,
  ): Promise<Operation>
  deleteSecurityGroup(id: string, options?: CallOptions): Promise<Operation>
  addSecurityGroupRule(
    securityGroupId: string,
    rule: AddSecurityGroupRuleRequest,
    options?: CallOptions,
  ): Promise<Operation>
  deleteSecurityGroupRule(
    securityGroupId: string,
    ruleId: string,
    options?: CallOptions,
  ): Promise<Operation>

  /** With `labels`: filtered by the server and again client-side. */
  listInstances(options?: ListInstancesOptions): Promise<Instance[]>
  getInstance(id: string, options?: CallOptions): Promise<Instance>
  /** Sent once, never retried. */
  createInstance(request: CreateInstanceRequest, options?: CallOptions): Promise<Operation>
  deleteInstance(id: string, options?: CallOptions): Promise<Operation>
  startInstance(id: string, options?: StartInstanceOptions): Promise<Operation>
  stopInstance(id: string, options?: CallOptions): Promise<Operation>
  rebootInstance(id: string, options?: CallOptions): Promise<Operation>

  listQuotas(options?: CallOptions): Promise<Quota[]>
  getQuota(entity: string, options?: CallOptions): Promise<Quota>

  getOperation(id: string, options?: CallOptions): Promise<Operation>
  /** Until `success` (returned) or `failure`/`timeout`/deadline (thrown). */
  waitForOperation(op: Operation, options?: WaitOptions): Promise<Operation>
  /** Until the instance is in one of `states`. */
  waitForInstanceState(
    id: string,
    states: readonly InstanceState[],
    options?: WaitOptions,
  ): Promise<Instance>
  /** Until the instance answers 404 (or reads `destroyed`). */
  waitForInstanceGone(id: string, options?: WaitOptions): Promise<void>
}

/** Positive finite number or the default. */
function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback
}

/** Builds the client. Throws exoscale_bad_request for a malformed zone or endpoint. */
export function createExoscaleClient(options: ExoscaleClientOptions): ExoscaleClient {
  assertZoneName(options.zone)
  const endpoint = resolveBaseUrl(options.zone, options.endpoint)
  const clock = options.clock ?? systemClock
  const logger = (options.logger ?? silentLogger).child({ component: 'exoscale' })
  const retry: RetryOptions = { ...DEFAULT_RETRY_OPTIONS }
  for (const [k, v] of Object.entries(options.retry ?? {})) {
    if (v !== undefined && Number.isFinite(v) && v >= 0) retry[k as keyof RetryOptions] = v
  }
  retry.maxAttempts = Math.max(1, Math.floor(retry.maxAttempts))
  const http = new ExoscaleHttp({
    apiKey: options.apiKey,
    apiSecret: options.apiSecret,
    baseUrl: endpoint,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock,
    logger,
    random: options.random ?? Math.random,
    retry,
    requestTimeoutMs: positive(options.requestTimeoutMs, 60_000),
    expiresInSeconds: positive(options.expiresInSeconds, DEFAULT_EXPIRES_IN_SECONDS),
  })
  const wait: WaitContext = {
    http,
    clock,
    logger,
    pollIntervalMs: positive(options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS),
    secrets: [options.apiSecret],
  }
  const zone = options.zone
  return {
    zone,
    endpoint,
    listZones: (o) => listZones(http, o),
    listInstanceTypes: (o) => instanceTypes.listInstanceTypes(http, o),
    getInstanceType: (id, o) => instanceTypes.getInstanceType(http, id, o),
    findInstanceType: (name, o) => instanceTypes.findInstanceType(http, zone, name, o),
    listTemplates: (o) => templates.listTemplates(http, o),
    getTemplate: (id, o) => templates.getTemplate(http, id, o),
    findTemplate: (name, o) => templates.findTemplate(http, zone, name, o),
    listSecurityGroups: (o) => securityGroups.listSecurityGroups(http, o),
    getSecurityGroup: (id, o) => securityGroups.getSecurityGroup(http, id, o),
    createSecurityGroup: (req, o) => securityGroups.createSecurityGroup(http, req, o),
    deleteSecurityGroup: (id, o) => securityGroups.deleteSecurityGroup(http, id, o),
    addSecurityGroupRule: (id, rule, o) => securityGroups.addSecurityGroupRule(http, id, rule, o),
    deleteSecurityGroupRule: (id, ruleId, o) =>
      securityGroups.deleteSecurityGroupRule(http, id, ruleId, o),
    listInstances: (o) => instances.listInstances(http, o),
    getInstance: (id, o) => instances.getInstance(http, id, o),
    createInstance: (req, o) => instances.createInstance(http, req, o),
    deleteInstance: (id, o) => instances.deleteInstance(http, id, o),
    startInstance: (id, o) => instances.startInstance(http, id, o),
    stopInstance: (id, o) => instances.stopInstance(http, id, o),
    rebootInstance: (id, o) => instances.rebootInstance(http, id, o),
    listQuotas: (o) => quotas.listQuotas(http, o),
    getQuota: (entity, o) => quotas.getQuota(http, entity, o),
    getOperation: (id, o) => getOperation(http, id, o),
    waitForOperation: (op, o) => waitForOperation(wait, op, o),
    waitForInstanceState: (id, states, o) => waitForInstanceState(wait, id, states, o),
    waitForInstanceGone: (id, o) => waitForInstanceGone(wait, id, o),
  }
}
