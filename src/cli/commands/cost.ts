import type { Command } from 'commander'
import {
  utcDay,
  utcMonthStart,
  type RequestUsageTotals,
  type Store,
  type UsageRow,
  type UsageTotals,
} from '../../store/index.js'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import { formatDuration, formatHours, formatMoney, formatTable, isoTime } from '../format.js'

/** The first day of the ledger's range for "in total". */
const BEGINNING = '1970-01-01'

interface RowJson {
  day?: string
  instance_type: string
  running_ms: number
  hours: number
  cost: number | null
}

function rowJson(row: UsageRow): RowJson {
  return {
    ...(row.day === null ? {} : { day: row.day }),
    instance_type: row.instanceType,
    running_ms: row.runningMs,
    hours: row.hours,
    cost: row.cost,
  }
}

function totalsJson(totals: UsageTotals) {
  return {
    from_day: totals.fromDay,
    to_day: totals.toDay,
    running_ms: totals.runningMs,
    hours: totals.hours,
    cost: totals.cost,
    by_type: totals.byType.map(rowJson),
  }
}

function requestsJson(totals: RequestUsageTotals, names: Map<string, string>) {
  return {
    requests: totals.requests,
    prompt_tokens: totals.promptTokens,
    eval_tokens: totals.evalTokens,
    by_key: totals.byKey.map((k) => ({
      key_id: k.keyId,
      name: k.keyId === null ? null : (names.get(k.keyId) ?? null),
      requests: k.requests,
      prompt_tokens: k.promptTokens,
      eval_tokens: k.evalTokens,
    })),
  }
}

/** Everything `cost` reports, from the usage ledger and the request log. */
export function costReport(store: Store, now: number) {
  const today = utcDay(now)
  const monthFrom = utcDay(utcMonthStart(now))
  const names = new Map(store.apiKeys.list({ includeRevoked: true }).map((k) => [k.id, k.name]))
  const current = store.usage.currentSession()
  return {
    currency: store.usage.currency,
    current: current && {
      instance_id: current.instanceId,
      instance_type: current.instanceType,
      started_at: isoTime(current.startedAt),
      running_ms: current.runningMs,
      cost: current.cost,
    },
    month: {
      ...totalsJson(store.usage.totals({ fromDay: monthFrom, toDay: today })),
      by_day: store.usage.byDay({ fromDay: monthFrom, toDay: today }).map(rowJson),
    },
    total: totalsJson(store.usage.totals({ fromDay: BEGINNING, toDay: today })),
    requests: {
      month: requestsJson(store.requests.totals({ since: utcMonthStart(now) }), names),
      total: requestsJson(store.requests.totals(), names),
    },
  }
}

type CostReport = ReturnType<typeof costReport>

function renderCost(
  report: CostReport,
  bold: (s: string) => string,
  dim: (s: string) => string,
): string[] {
  const money = (n: number | null) => formatMoney(n, report.currency)
  const lines: string[] = []
  lines.push(bold(`Cost in ${report.currency} (list prices per running hour; days are UTC)`))
  lines.push(
    report.current
      ? `current instance  ${report.current.instance_type}, running ${formatDuration(report.current.running_ms)}, ${money(report.current.cost)} so far`
      : 'current instance  none running',
  )
  const typeRow = (r: RowJson) => [r.instance_type, formatHours(r.running_ms), money(r.cost)]
  lines.push('', bold(`This month (${report.month.from_day} to ${report.month.to_day}) by day`))
  if (report.month.by_day.length === 0) lines.push(dim('  no running time this month'))
  else {
    const rows = [
      ['DAY', 'TYPE', 'HOURS', 'COST'].map(bold),
      ...report.month.by_day.map((r) => [r.day ?? '', ...typeRow(r)]),
    ]
    lines.push(...formatTable(rows).map((l) => `  ${l}`))
  }
  for (const [title, totals] of [
    ['This month by instance type', report.month],
    ['In total by instance type', report.total],
  ] as const) {
    lines.push('', bold(title))
    if (totals.by_type.length === 0) {
      lines.push(dim('  no running time'))
      continue
    }
    const rows = [
      ['TYPE', 'HOURS', 'COST'].map(bold),
      ...totals.by_type.map(typeRow),
      [bold('total'), formatHours(totals.running_ms), money(totals.cost)],
    ]
    lines.push(...formatTable(rows).map((l) => `  ${l}`))
  }
  lines.push('', bold('Requests by client key (this month / in total)'))
  const total = report.requests.total
  if (total.requests === 0) lines.push(dim('  no requests recorded'))
  else {
    const month = new Map(report.requests.month.by_key.map((k) => [k.key_id, k]))
    const rows = [
      ['KEY', 'NAME', 'REQUESTS', 'PROMPT TOKENS', 'OUTPUT TOKENS'].map(bold),
      ...total.by_key.map((k) => {
        const m = month.get(k.key_id)
        return [
          k.key_id ?? '(no key)',
          k.name ?? (k.key_id === null ? 'local clients' : '?'),
          `${m?.requests ?? 0} / ${k.requests}`,
          `${m?.prompt_tokens ?? 0} / ${k.prompt_tokens}`,
          `${m?.eval_tokens ?? 0} / ${k.eval_tokens}`,
        ]
      }),
      [
        bold('total'),
        '',
        `${report.requests.month.requests} / ${total.requests}`,
        `${report.requests.month.prompt_tokens} / ${total.prompt_tokens}`,
        `${report.requests.month.eval_tokens} / ${total.eval_tokens}`,
      ],
    ]
    lines.push(...formatTable(rows).map((l) => `  ${l}`))
  }
  return lines
}

/** `exollama cost [--json]`: instance hours and money by day and type, and requests by key. */
export function registerCost(program: Command, host: ActionHost): void {
  program
    .command('cost')
    .description('show instance hours and cost, and requests by key')
    .option('--json', 'print the report as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama cost', 'this month by day, by type, in total, and per client key'],
        ['exollama cost --json | jq .month.cost', 'this month so far'],
        ['exollama config set EXOLLAMA_PRICE_PER_HOUR 0.04', 'use a negotiated hourly rate'],
      ) +
        '\nCost is running time × the hourly list price of the type (spec/exoscale-prices.json, or\nEXOLLAMA_PRICE_PER_HOUR for the configured type); null/"?" where a type has no known price.\nDisks of stopped instances are billed by Exoscale too and are not included.\n',
    )
    .action(
      action(host, 'cost', async (ctx) => {
        const config = ctx.config()
        const store = ctx.store(config)
        const report = costReport(store, ctx.clock.now())
        if (ctx.out.json) ctx.out.writeJson(report)
        else {
          const s = ctx.out.outStyle
          for (const line of renderCost(report, s.bold, s.dim)) ctx.out.line(line)
        }
      }),
    )
}
