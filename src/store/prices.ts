import { readFileSync } from 'node:fs'
import { StoreError } from './errors.js'

/** Hourly prices of running instances by type (`standard.medium` → 0.04666). */
export interface PriceList {
  readonly perHourRunning: Readonly<Record<string, number>>
  /** Where the numbers come from (the file's `source`). */
  readonly source: string
}

let cached: PriceList | undefined

/**
 * The built-in price list, spec/exoscale-prices.json, read at runtime relative to this module
 * (the package ships `spec/` next to `dist/`, and `src/` sits at the same depth).
 */
export function builtInPriceList(): PriceList {
  if (cached) return cached
  const url = new URL('../../spec/exoscale-prices.json', import.meta.url)
  let parsed: { per_hour_running?: Record<string, unknown>; source?: unknown }
  try {
    parsed = JSON.parse(readFileSync(url, 'utf8')) as typeof parsed
  } catch (error) {
    throw new StoreError(
      'price_list_unreadable',
      `cannot read the price list ${url.pathname}`,
      error,
    )
  }
  const perHourRunning: Record<string, number> = {}
  for (const [type, price] of Object.entries(parsed.per_hour_running ?? {})) {
    if (typeof price === 'number' && Number.isFinite(price) && price >= 0)
      perHourRunning[type] = price
  }
  cached = Object.freeze({
    perHourRunning: Object.freeze(perHourRunning),
    source: typeof parsed.source === 'string' ? parsed.source : 'spec/exoscale-prices.json',
  })
  return cached
}

/** Prices with overrides (negotiated rates, EXOLLAMA_PRICE_PER_HOUR) on top of the list. */
export interface Pricing {
  readonly currency: string
  /** Price of one running hour of `type`, or null when neither the overrides nor the list know it. */
  priceFor(type: string): number | null
}

export interface PricingOptions {
  /** Per-type hourly prices that replace the list's. */
  readonly overrides?: Readonly<Record<string, number>>
  /** Currency label; Exoscale's list prices are the same number in CHF, EUR and USD. */
  readonly currency?: string
  readonly list?: PriceList
}

export function createPricing(options: PricingOptions = {}): Pricing {
  const list = options.list ?? builtInPriceList()
  const overrides = { ...(options.overrides ?? {}) }
  return {
    currency: options.currency ?? 'CHF',
    priceFor(type) {
      const price = Object.hasOwn(overrides, type) ? overrides[type] : list.perHourRunning[type]
      return price === undefined ? null : price
    },
  }
}
