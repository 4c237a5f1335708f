/**
 * @peculiar/x509 resolves its algorithms through tsyringe, which refuses to load without the
 * Reflect metadata API (normally the `reflect-metadata` package, not a dependency here). This
 * installs the three functions tsyringe calls (defineMetadata, getMetadata, getOwnMetadata),
 * only when no polyfill is present. Import it before @peculiar/x509.
 */
type Key = string | symbol
type Table = Map<Key | undefined, Map<unknown, unknown>>

interface ReflectMetadataApi {
  defineMetadata(key: unknown, value: unknown, target: object, property?: Key): void
  getOwnMetadata(key: unknown, target: object, property?: Key): unknown
  getMetadata(key: unknown, target: object, property?: Key): unknown
}

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>

if (typeof reflect.getMetadata !== 'function') {
  const tables = new WeakMap<object, Table>()
  const own = (key: unknown, target: object, property?: Key) =>
    tables.get(target)?.get(property)?.get(key)
  const api: ReflectMetadataApi = {
    defineMetadata(key, value, target, property) {
      let table = tables.get(target)
      if (!table) tables.set(target, (table = new Map()))
      let entries = table.get(property)
      if (!entries) table.set(property, (entries = new Map()))
      entries.set(key, value)
    },
    getOwnMetadata: own,
    getMetadata(key, target, property) {
      for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
        const value = own(key, t, property)
        if (value !== undefined) return value
      }
      return undefined
    },
  }
  Object.assign(Reflect, api)
}

export {}
