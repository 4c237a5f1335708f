import type { Command } from 'commander'
import { UserError } from '../../shared/index.js'
import { StoreInputError, type ApiKeyRecord, type ApiKeyScope } from '../../store/index.js'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import type { CommandContext } from '../context.js'
import { CliUsageError } from '../errors.js'
import { formatTable, formatTime, isoTime } from '../format.js'

const ONCE_NOTE =
  'This is the only time the key is shown: exollama keeps only its hash. Store it now; clients send it as "Authorization: Bearer <key>".'

function keyJson(record: ApiKeyRecord) {
  return {
    id: record.id,
    name: record.name,
    scopes: record.scopes,
    created_at: isoTime(record.createdAt),
    revoked_at: record.revokedAt === null ? null : isoTime(record.revokedAt),
  }
}

function create(ctx: CommandContext, name: string, admin: boolean): void {
  const store = ctx.store()
  const scopes: ApiKeyScope[] = admin ? ['inference', 'admin'] : ['inference']
  let created
  try {
    created = store.apiKeys.create({ name, scopes })
  } catch (error) {
    if (error instanceof StoreInputError && error.code === 'invalid_key_name') {
      throw new CliUsageError(
        `NAME: ${JSON.stringify(name.slice(0, 80))} is not valid: expected 1 to 64 printable characters`,
        { code: 'invalid_key_name', cause: error },
      )
    }
    throw error
  }
  const key = created.key.reveal()
  if (ctx.out.json) {
    ctx.out.writeJson({ ...keyJson(created.record), key, note: ONCE_NOTE })
    return
  }
  const s = ctx.out.outStyle
  // The key alone on stdout (so `KEY=$(exollama keys create app)` works); the rest on stderr.
  ctx.out.note(
    `${s.green('✓')} created key ${created.record.id} "${created.record.name}" (${scopes.join(', ')})`,
  )
  ctx.out.line(key)
  ctx.out.note(ONCE_NOTE)
}

function list(ctx: CommandContext, all: boolean): void {
  const keys = ctx.store().apiKeys.list({ includeRevoked: all })
  if (ctx.out.json) {
    ctx.out.writeJson({ keys: keys.map(keyJson) })
    return
  }
  if (keys.length === 0) {
    ctx.out.line(all ? 'no keys' : 'no active keys: create one with "exollama keys create NAME"')
    return
  }
  const s = ctx.out.outStyle
  const rows = [
    ['ID', 'NAME', 'SCOPES', 'CREATED', ...(all ? ['REVOKED'] : [])].map(s.bold),
    ...keys.map((k) => [
      k.id,
      k.name,
      k.scopes.join(','),
      formatTime(k.createdAt),
      ...(all ? [k.revokedAt === null ? '-' : formatTime(k.revokedAt)] : []),
    ]),
  ]
  for (const line of formatTable(rows)) ctx.out.line(line)
}

function revoke(ctx: CommandContext, id: string): void {
  const revoked = ctx.store().apiKeys.revoke(id.trim())
  if (!revoked) {
    throw new UserError(
      'key_not_found',
      `no active key with id ${JSON.stringify(id.slice(0, 40))}: run "exollama keys list" to see the ids`,
    )
  }
  if (ctx.out.json) ctx.out.writeJson({ revoked: keyJson(revoked) })
  else ctx.out.line(`revoked key ${revoked.id} "${revoked.name}": clients using it now get 401`)
}

/** `exollama keys create|list|revoke`: client API keys for the gateway. */
export function registerKeys(program: Command, host: ActionHost): void {
  const keys = program
    .command('keys')
    .description('manage client API keys (create, list, revoke)')
    .addHelpText(
      'after',
      examples(
        ['exollama keys create laptop', 'a new key for one client (printed once)'],
        ['exollama keys list', 'ids, names and scopes, never the keys'],
        ['exollama keys revoke k1a2b3c4d5', 'the key stops working at once'],
      ),
    )

  keys
    .command('create')
    .description('create a client key and print it once')
    .argument('<NAME>', 'who or what uses the key, e.g. laptop or open-webui')
    .option('--admin', 'also allow model admin (/api/pull, /api/delete, …) and management routes')
    .option('--json', 'print the key record, the key and a note as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama keys create open-webui', 'an inference key'],
        ['KEY=$(exollama keys create ci)', 'only the key goes to stdout'],
        ['exollama keys create ops --admin', 'may also pull and delete models'],
      ),
    )
    .action(
      action<{ admin?: boolean }>(host, 'keys create', async (ctx, [name = ''], options) =>
        create(ctx, name, options.admin === true),
      ),
    )

  keys
    .command('list')
    .description('list client keys (never the keys themselves)')
    .option('--all', 'include revoked keys')
    .option('--json', 'print {"keys": [...]} as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama keys list', 'active keys'],
        ['exollama keys list --all --json', 'all, as JSON'],
      ),
    )
    .action(
      action<{ all?: boolean }>(host, 'keys list', async (ctx, _args, options) =>
        list(ctx, options.all === true),
      ),
    )

  keys
    .command('revoke')
    .description('revoke a client key by id; it stops working at once')
    .argument('<ID>', 'the key id from "exollama keys list", e.g. k1a2b3c4d5')
    .option('--json', 'print the revoked key record as one JSON object')
    .addHelpText('after', examples(['exollama keys revoke k1a2b3c4d5', 'revoke one key']))
    .action(action(host, 'keys revoke', async (ctx, [id = '']) => revoke(ctx, id)))
}
