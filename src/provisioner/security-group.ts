import { canonicalCidr } from '../config/index.js'
import {
  isExoscaleError,
  type ExoscaleClient,
  type SecurityGroup,
  type SecurityGroupRule,
} from '../exoscale/index.js'
import { INSTANCE_PORT } from '../recipe/index.js'
import type { Logger } from '../shared/index.js'

/** The security group of an exollama name: `exollama-<name>`. */
export function securityGroupName(name: string): string {
  return `exollama-${name}`
}

export interface SecurityGroupSync {
  id: string
  created: boolean
  added: string[]
  removed: number
}

interface SyncContext {
  client: ExoscaleClient
  logger: Logger
  signal?: AbortSignal | undefined
}

function normalise(cidr: string): string {
  return canonicalCidr(cidr) ?? cidr.trim()
}

/** Whether a rule is one of ours for `network`: ingress TCP 11435 from a CIDR. */
function isPortRule(rule: SecurityGroupRule): boolean {
  return (
    rule['flow-direction'] === 'ingress' &&
    rule.protocol === 'tcp' &&
    rule['start-port'] === INSTANCE_PORT &&
    rule['end-port'] === INSTANCE_PORT &&
    rule['security-group'] === undefined &&
    typeof rule.network === 'string'
  )
}

async function findGroup(ctx: SyncContext, name: string): Promise<SecurityGroup | undefined> {
  const groups = await ctx.client.listSecurityGroups({ visibility: 'private', signal: ctx.signal })
  return groups.find((g) => g.name === name)
}

/**
 * Makes security group `exollama-<name>` exist with exactly one ingress rule per allowed CIDR on
 * TCP 11435 and nothing else (no egress rule: one egress rule would block all other egress).
 * Rules for CIDRs no longer allowed, duplicates and foreign rules are removed. Idempotent; run
 * under the lease.
 */
export async function ensureSecurityGroup(
  ctx: SyncContext,
  name: string,
  allowedCidrs: readonly string[],
): Promise<SecurityGroupSync> {
  const groupName = securityGroupName(name)
  let group = await findGroup(ctx, groupName)
  let created = false
  if (!group) {
    try {
      const op = await ctx.client.createSecurityGroup(
        {
          name: groupName,
          description: `exollama ${name}: TLS port ${INSTANCE_PORT} of the instance`,
        },
        { signal: ctx.signal },
      )
      const done = await ctx.client.waitForOperation(op, { signal: ctx.signal })
      created = true
      const id = done.reference?.id
      if (id) group = { id, name: groupName }
    } catch (error) {
      // Someone created it between our list and our create: use theirs.
      if (!isExoscaleError(error, 'exoscale_conflict')) throw error
    }
    group ??= await findGroup(ctx, groupName)
    if (!group?.id) {
      throw new Error(`security group ${groupName} was created but cannot be found`)
    }
  }
  const id = group.id as string
  // The list may leave rules out: read the group itself.
  const full = await ctx.client.getSecurityGroup(id, { signal: ctx.signal })
  const wanted = [...new Set(allowedCidrs.map(normalise))]
  const kept = new Set<string>()
  let removed = 0
  for (const rule of full.rules ?? []) {
    const network = rule.network === undefined ? undefined : normalise(rule.network)
    const keep =
      isPortRule(rule) && network !== undefined && wanted.includes(network) && !kept.has(network)
    if (keep) {
      kept.add(network)
      continue
    }
    if (!rule.id) continue
    const op = await ctx.client.deleteSecurityGroupRule(id, rule.id, { signal: ctx.signal })
    await ctx.client.waitForOperation(op, { signal: ctx.signal })
    removed++
  }
  const added: string[] = []
  for (const network of wanted) {
    if (kept.has(network)) continue
    const op = await ctx.client.addSecurityGroupRule(
      id,
      {
        'flow-direction': 'ingress',
        protocol: 'tcp',
        network,
        'start-port': INSTANCE_PORT,
        'end-port': INSTANCE_PORT,
        description: 'exollama: TLS + key to Ollama',
      },
      { signal: ctx.signal },
    )
    await ctx.client.waitForOperation(op, { signal: ctx.signal })
    added.push(network)
  }
  if (created || added.length > 0 || removed > 0) {
    ctx.logger.info({ group: groupName, created, added, removed }, 'security group synced')
  }
  return { id, created, added, removed }
}
