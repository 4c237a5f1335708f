import { matchesLabels, parseLabelsFilter } from './labels-filter.js'
import {
  renderInstance,
  renderInstanceListItem,
  renderInstanceType,
  renderOperation,
  renderSecurityGroup,
  renderSshKey,
  renderTemplate,
} from './render.js'
import { ZONES, type ZoneName } from './types.js'
import type {
  AddRuleBody,
  CreateInstanceBody,
  Subject,
  UpdateInstanceBody,
  World,
} from './world.js'

/**
 * The operations the simulator serves, by the spec's operation id. Requests reach a handler
 * only after the signature, the path, the query and the body passed validation against the
 * spec, so handlers may trust the shapes. Operations of the spec missing here answer 501.
 */

export interface RouteContext {
  world: World
  zone: ZoneName
  /** Path parameters, decoded. */
  pathParams: Record<string, string>
  /** Query parameters, decoded and typed per the spec. */
  query: Record<string, unknown>
  /** The parsed JSON body (already valid against the operation's schema). */
  body: unknown
  subject: Subject
}

export type RouteHandler = (ctx: RouteContext) => unknown

const id = (ctx: RouteContext, name = 'id'): string => ctx.pathParams[name] ?? ''
const op = (o: Parameters<typeof renderOperation>[0]) => renderOperation(o)

export const ROUTES: Readonly<Record<string, RouteHandler>> = {
  'list-zones': () => ({
    zones: ZONES.map((name) => ({
      name,
      // The real values. Clients must not use them when an endpoint is configured (DESIGN §6).
      'api-endpoint': `https://api-${name}.exoscale.com/v2`,
      'sos-endpoint': `https://sos-${name}.exo.io`,
    })),
  }),

  'get-operation': (ctx) => op(ctx.world.getOperation(ctx.zone, id(ctx))),

  'list-instance-types': (ctx) => ({
    'instance-types': ctx.world
      .instanceTypes()
      .map((t) => renderInstanceType(ctx.world, t, ctx.zone)),
  }),
  'get-instance-type': (ctx) =>
    renderInstanceType(ctx.world, ctx.world.instanceType(id(ctx)), ctx.zone),

  'list-templates': (ctx) => {
    const visibility = (ctx.query['visibility'] as string | undefined) ?? 'public'
    const family = ctx.query['family'] as string | undefined
    return {
      templates: ctx.world
        .templates(ctx.zone)
        .filter((t) => t.visibility === visibility && (family === undefined || t.family === family))
        .map(renderTemplate),
    }
  },
  'get-template': (ctx) => renderTemplate(ctx.world.template(ctx.zone, id(ctx))),

  'list-quotas': (ctx) => ({ quotas: ctx.world.quotas() }),
  'get-quota': (ctx) => ctx.world.quota(id(ctx, 'entity')),

  'list-instances': (ctx) => {
    const labels = ctx.query['labels'] as string | undefined
    const filter = labels === undefined ? undefined : parseLabelsFilter(labels)
    const ip = ctx.query['ip-address'] as string | undefined
    const managerId = ctx.query['manager-id'] as string | undefined
    const managerType = ctx.query['manager-type'] as string | undefined
    const items = ctx.world.instances(ctx.zone).filter(
      (r) =>
        (filter === undefined || matchesLabels(r.labels, filter)) &&
        (ip === undefined || r.publicIp === ip || r.ipv6Address === ip) &&
        // No instance pools are simulated: nothing has a manager.
        managerId === undefined &&
        managerType === undefined,
    )
    return { instances: items.map((r) => renderInstanceListItem(ctx.world, r)) }
  },
  'get-instance': (ctx) => renderInstance(ctx.world, ctx.world.instance(ctx.zone, id(ctx))),
  'create-instance': (ctx) =>
    op(ctx.world.createInstance(ctx.zone, ctx.body as CreateInstanceBody, ctx.subject)),
  'update-instance': (ctx) =>
    op(ctx.world.updateInstance(ctx.zone, id(ctx), ctx.body as UpdateInstanceBody, ctx.subject)),
  'delete-instance': (ctx) => op(ctx.world.deleteInstance(ctx.zone, id(ctx), ctx.subject)),
  'reset-instance-field': (ctx) =>
    op(ctx.world.resetInstanceField(ctx.zone, id(ctx), id(ctx, 'field'), ctx.subject)),
  'start-instance': (ctx) => op(ctx.world.startInstance(ctx.zone, id(ctx), ctx.subject)),
  'stop-instance': (ctx) => op(ctx.world.stopInstance(ctx.zone, id(ctx), ctx.subject)),
  'reboot-instance': (ctx) => op(ctx.world.rebootInstance(ctx.zone, id(ctx), ctx.subject)),
  'scale-instance': (ctx) =>
    op(
      ctx.world.scaleInstance(
        ctx.zone,
        id(ctx),
        (ctx.body as { 'instance-type': { id: string } })['instance-type'].id,
        ctx.subject,
      ),
    ),
  'resize-instance-disk': (ctx) =>
    op(
      ctx.world.resizeInstanceDisk(
        ctx.zone,
        id(ctx),
        (ctx.body as { 'disk-size': number })['disk-size'],
        ctx.subject,
      ),
    ),
  'add-instance-protection': (ctx) =>
    op(ctx.world.setProtection(ctx.zone, id(ctx), true, ctx.subject)),
  'remove-instance-protection': (ctx) =>
    op(ctx.world.setProtection(ctx.zone, id(ctx), false, ctx.subject)),

  'list-security-groups': (ctx) => ({
    'security-groups': ctx.world
      .securityGroups((ctx.query['visibility'] as 'private' | 'public' | undefined) ?? 'private')
      .map(renderSecurityGroup),
  }),
  'get-security-group': (ctx) => renderSecurityGroup(ctx.world.securityGroup(id(ctx))),
  'create-security-group': (ctx) =>
    op(
      ctx.world.createSecurityGroup(
        ctx.zone,
        ctx.body as { name: string; description?: string },
        ctx.subject,
      ),
    ),
  'delete-security-group': (ctx) =>
    op(ctx.world.deleteSecurityGroup(ctx.zone, id(ctx), ctx.subject)),
  'add-rule-to-security-group': (ctx) =>
    op(ctx.world.addSecurityGroupRule(ctx.zone, id(ctx), ctx.body as AddRuleBody, ctx.subject)),
  'delete-rule-from-security-group': (ctx) =>
    op(ctx.world.deleteSecurityGroupRule(ctx.zone, id(ctx), id(ctx, 'rule-id'), ctx.subject)),
  'attach-instance-to-security-group': (ctx) =>
    op(
      ctx.world.attachSecurityGroup(
        ctx.zone,
        id(ctx),
        (ctx.body as { instance: { id?: string } }).instance.id ?? '',
        true,
        ctx.subject,
      ),
    ),
  'detach-instance-from-security-group': (ctx) =>
    op(
      ctx.world.attachSecurityGroup(
        ctx.zone,
        id(ctx),
        (ctx.body as { instance: { id?: string } }).instance.id ?? '',
        false,
        ctx.subject,
      ),
    ),
  'add-external-source-to-security-group': (ctx) =>
    op(
      ctx.world.externalSource(
        ctx.zone,
        id(ctx),
        (ctx.body as { cidr: string }).cidr,
        true,
        ctx.subject,
      ),
    ),
  'remove-external-source-from-security-group': (ctx) =>
    op(
      ctx.world.externalSource(
        ctx.zone,
        id(ctx),
        (ctx.body as { cidr: string }).cidr,
        false,
        ctx.subject,
      ),
    ),

  'list-ssh-keys': (ctx) => ({ 'ssh-keys': ctx.world.sshKeys().map(renderSshKey) }),
  'get-ssh-key': (ctx) => renderSshKey(ctx.world.sshKey(id(ctx, 'name'))),
  'register-ssh-key': (ctx) => {
    const body = ctx.body as { name: string; 'public-key': string }
    return op(ctx.world.registerSshKey(ctx.zone, body.name, body['public-key'], ctx.subject))
  },
  'delete-ssh-key': (ctx) => op(ctx.world.deleteSshKey(ctx.zone, id(ctx, 'name'), ctx.subject)),
}
