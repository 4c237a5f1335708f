import { isExoscaleError, type CreateInstanceRequest } from '../exoscale/index.js'
import { buildUserData, generateInstanceCredentials } from '../recipe/index.js'
import type { Fence, InstanceRecord, Intent } from '../store/index.js'
import { hasId, isGoing, listOwned, type ListedInstance } from './cloud-instance.js'
import type { ProvisionerContext } from './context.js'
import { resolveCreatePlan } from './create-plan.js'
import { ProvisionerError } from './errors.js'
import { enterPhase, recordEvent, transition } from './events.js'
import {
  errorSummary,
  explainCreateError,
  explainRecipeError,
  isAmbiguousCreateFailure,
} from './explain.js'
import { instanceLabels, intentFilter, intentOf } from './labels.js'
import { recordFromIntent } from './records.js'
import { ensureSecurityGroup, type SecurityGroupSync } from './security-group.js'
import type { ProvisionerSettings } from './settings.js'
import { deleteInstance } from './teardown.js'
import type { Wake } from './wake-state.js'

/**
 * Creates the instance, under the lease: resolves zone, type, template and disk, syncs the
 * security group, then commits the intent (certificate and secrets) BEFORE the one POST, so a
 * crash or an ambiguous failure can always find the instance by its intent label. The POST is
 * never repeated.
 */
export async function createInstance(
  ctx: ProvisionerContext,
  w: Wake,
  fence: Fence,
): Promise<InstanceRecord> {
  const signal = w.controller.signal
  const s = ctx.settings
  transition(ctx, 'provisioning', {
    type: 'create',
    reason: w.reason,
    actor: w.actor,
    message: `creating a ${s.instanceType} instance in ${s.zone} (${w.reason})`,
  })
  enterPhase(ctx, w, 'provisioning')
  const plan = await resolveCreatePlan(ctx.client, s, signal)
  const sg = await syncSecurityGroup(ctx, s, signal)
  const credentials = await generateInstanceCredentials({ clock: ctx.clock })
  const ollamaKey = s.ollamaKey ?? credentials.ollamaKey
  let userData: string
  try {
    userData = buildUserData({
      name: s.name,
      ollamaKey,
      tls: { certPem: credentials.certPem, keyPem: credentials.keyPem },
      gpu: plan.gpu,
      ubuntu: plan.ubuntu,
      idleTimeoutS: s.idleTimeoutS,
      maxLifetimeS: s.maxLifetimeS,
      watchdogGraceS: s.watchdogGraceS,
      preloadModels: s.models,
      allowedCidrs: s.allowedCidrs,
      ollamaImageTag: s.ollamaImageTag,
      keepAlive: s.keepAlive,
    }).userData
  } catch (error) {
    throw explainRecipeError(error)
  }

  // Durable before the POST (synchronous=FULL, lease re-checked in the same transaction):
  // after a crash, the instance is found by this id and talked to with these secrets.
  const intent = ctx.store.intents.create(
    {
      name: s.name,
      zone: plan.zone,
      instanceType: plan.instanceTypeName,
      template: plan.template.name,
      tlsCertPem: credentials.certPem,
      secrets: { ollamaKey, tlsKeyPem: credentials.keyPem },
    },
    fence,
  )
  w.intentId = intent.id
  recordEvent(ctx, {
    type: 'create',
    reason: w.reason,
    actor: w.actor,
    message: `creating instance ${s.name} (intent ${intent.id})`,
    data: {
      intent: intent.id,
      zone: plan.zone,
      type: plan.instanceTypeName,
      template: plan.template.name,
      templateId: plan.template.id,
      diskGiB: plan.diskSizeGiB,
      gpu: plan.gpu,
    },
  })
  if (!ctx.lease.holds(fence)) {
    ctx.store.intents.markAbandoned(intent.id, 'lease lost before the create call')
    throw new ProvisionerError(
      'lease_busy',
      'another exollama process took over while this one was about to create the instance: retry',
      { kind: 'cloud' },
    )
  }
  const request: CreateInstanceRequest = {
    name: s.name,
    'instance-type': { id: plan.instanceType.id },
    template: { id: plan.template.id },
    'disk-size': plan.diskSizeGiB,
    'security-groups': [{ id: sg.id }],
    labels: instanceLabels(s.name, intent.id),
    'public-ip-assignment': 'inet4',
    'user-data': userData,
  }
  const where = { zone: plan.zone, instanceType: plan.instanceTypeName }

  let op
  w.postSent = true
  try {
    op = await ctx.client.createInstance(request, { signal })
  } catch (error) {
    if (signal.aborted) {
      // The call may have landed: the failure path finds it by its intent label.
      w.owned = true
      throw error
    }
    if (isAmbiguousCreateFailure(error)) {
      recordEvent(ctx, {
        type: 'create',
        errorCode: errorSummary(error).code,
        message: `the create call failed without a clear answer; looking for intent ${intent.id}`,
      })
      const found = await findByIntent(ctx, intent.id, signal)
      if (found) {
        w.owned = true
        return recordCreated(ctx, w, intent, found, undefined, fence)
      }
      ctx.store.intents.markAbandoned(
        intent.id,
        `create failed (${errorSummary(error).code}); no instance carries the label`,
      )
      throw new ProvisionerError(
        'create_unconfirmed',
        `the create call failed without a clear answer (${errorSummary(error).code}) and no instance carries its intent label: nothing was created and it is never repeated blindly; retry`,
        { kind: 'cloud', cause: error },
      )
    }
    ctx.store.intents.markAbandoned(intent.id, errorSummary(error).message)
    throw explainCreateError(error, where)
  }
  w.owned = true
  if (op.id) ctx.store.intents.setOperation(intent.id, op.id)

  let instanceId: string | undefined
  try {
    const done = await ctx.client.waitForOperation(op, { signal })
    instanceId = done.reference?.id
  } catch (error) {
    if (signal.aborted) throw error
    if (
      isExoscaleError(
        error,
        'exoscale_operation_failed',
        'exoscale_capacity_unavailable',
        'exoscale_quota_exceeded',
      )
    ) {
      // A definite failure: remove whatever it left behind (an instance in error state).
      for (const left of await listByIntent(ctx, intent.id, signal).catch(() => [])) {
        await deleteInstance(ctx, left.id, 'its create operation failed').catch(() => {})
      }
      ctx.store.intents.markAbandoned(intent.id, errorSummary(error).message)
      w.owned = false
      throw explainCreateError(error, where)
    }
  }
  const instance = instanceId
    ? await ctx.client.getInstance(instanceId, { signal })
    : await findByIntent(ctx, intent.id, signal)
  if (!instance?.id) {
    ctx.store.intents.markAbandoned(intent.id, 'the create operation named no instance')
    throw new ProvisionerError(
      'create_unconfirmed',
      `the create operation ended without naming an instance and none carries intent ${intent.id}: retry`,
      { kind: 'cloud' },
    )
  }
  return recordCreated(ctx, w, intent, instance as ListedInstance, op.id, fence)
}

/** The instance exists: record it (state provisioning) and start its usage session. */
function recordCreated(
  ctx: ProvisionerContext,
  w: Wake,
  intent: Intent,
  instance: ListedInstance,
  operationId: string | undefined,
  fence: Fence,
): InstanceRecord {
  const now = ctx.clock.now()
  const current = ctx.store.intents.get(intent.id)
  if (current?.state === 'pending') {
    ctx.store.intents.markCreated(intent.id, {
      instanceId: instance.id,
      ...(operationId ? { operationId } : {}),
    })
  }
  const input = recordFromIntent(intent, instance, now)
  const record = ctx.store.instances.save(
    { ...input, state: 'provisioning', startedAt: now },
    fence,
  )
  ctx.store.usage.startSession({
    instanceId: instance.id,
    instanceType: record.instanceType,
    startedAt: now,
  })
  w.instanceId = instance.id
  recordEvent(ctx, {
    type: 'create',
    instanceId: instance.id,
    reason: w.reason,
    message: `instance ${instance.id} created (intent ${intent.id})`,
    data: { intent: intent.id, operation: operationId ?? null },
  })
  return record
}

/** Our instances carrying an intent's label. */
export async function listByIntent(
  ctx: ProvisionerContext,
  intentId: string,
  signal?: AbortSignal,
): Promise<ListedInstance[]> {
  const name = ctx.settings.name
  const listed = await listOwned(ctx.client, name, {
    labels: intentFilter(name, intentId),
    signal,
  })
  return listed.filter(hasId).filter((i) => intentOf(i) === intentId)
}

/**
 * After an ambiguous create failure: list by the intent label, a few times (the instance may
 * show up a moment late). Throws the last list error when no list succeeded: absence was
 * never established, so nothing may be concluded.
 */
async function findByIntent(
  ctx: ProvisionerContext,
  intentId: string,
  signal?: AbortSignal,
): Promise<ListedInstance | undefined> {
  let succeeded = false
  let lastError: unknown
  for (const pause of [0, ...ctx.tuning.ambiguousCreateChecksMs]) {
    if (pause > 0) await ctx.clock.sleep(pause, signal)
    try {
      const found = await listByIntent(ctx, intentId, signal)
      succeeded = true
      const live = found.filter((i) => !isGoing(i))
      if (live[0]) return live[0]
    } catch (error) {
      if (signal?.aborted) throw error
      lastError = error
    }
  }
  if (!succeeded) throw lastError
  return undefined
}

/** Makes the security group `exollama-<name>` admit exactly EXOLLAMA_ALLOWED_CIDRS. */
export async function syncSecurityGroup(
  ctx: ProvisionerContext,
  settings: ProvisionerSettings,
  signal?: AbortSignal,
): Promise<SecurityGroupSync> {
  const sg = await ensureSecurityGroup(
    { client: ctx.client, logger: ctx.log, signal },
    settings.name,
    settings.allowedCidrs,
  )
  if (sg.created || sg.added.length > 0 || sg.removed > 0) {
    recordEvent(ctx, {
      type: 'security-group',
      message: `security group synced: ${sg.created ? 'created, ' : ''}${sg.added.length} rule(s) added, ${sg.removed} removed`,
      data: { id: sg.id, added: sg.added, removed: sg.removed, created: sg.created },
    })
  }
  return sg
}
