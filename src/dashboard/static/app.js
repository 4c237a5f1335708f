// The exollama dashboard: plain ES module, no build step. Talks only to /exollama/v1/* on the
// same origin. Everything user-visible is rendered with textContent (never innerHTML).

const API = '/exollama/v1'

/** Accessible labels that outside checks rely on; other settings fall back to the schema's label. */
const LABELS = {
  EXOSCALE_API_KEY: 'Exoscale API key',
  EXOSCALE_API_SECRET: 'Exoscale API secret',
  EXOSCALE_ZONE: 'Zone',
  EXOSCALE_INSTANCE_TYPE: 'Instance type',
  EXOSCALE_IDLE_TIMEOUT: 'Idle timeout',
  EXOSCALE_TEMPLATE: 'Template',
  EXOSCALE_DISK_SIZE: 'Disk size',
  EXOLLAMA_IDLE_ACTION: 'Idle action',
  EXOLLAMA_MODEL: 'Models to preload',
  EXOLLAMA_WAKE_TIMEOUT: 'Wake timeout',
  EXOLLAMA_MAX_LIFETIME: 'Maximum lifetime',
  EXOLLAMA_DESTROY_AFTER: 'Destroy stopped instance after',
  EXOLLAMA_ALLOWED_CIDRS: 'Allowed networks',
}
/** Shown first, in this order; the rest follow in schema order. */
const FIRST = Object.keys(LABELS)
const UNITS = {
  EXOSCALE_IDLE_TIMEOUT: 'seconds',
  EXOLLAMA_WAKE_TIMEOUT: 'seconds',
  EXOLLAMA_MAX_LIFETIME: 'seconds',
  EXOLLAMA_DESTROY_AFTER: 'seconds',
  EXOSCALE_DISK_SIZE: 'GiB',
}
const PHASES = [
  'booting',
  'packages',
  'docker',
  'gpu-driver',
  'image-pull',
  'ollama-start',
  'health',
  'ready',
]

const $ = (id) => document.getElementById(id)
const el = (tag, props = {}, text) => {
  const node = Object.assign(document.createElement(tag), props)
  if (text !== undefined) node.textContent = String(text)
  return node
}

async function api(path, init) {
  const res = await fetch(API + path, {
    ...init,
    headers: {
      accept: 'application/json',
      ...(init?.body ? { 'content-type': 'application/json' } : {}),
    },
  })
  const text = await res.text()
  let body
  try {
    body = text ? JSON.parse(text) : {}
  } catch {
    body = { error: text }
  }
  if (!res.ok) {
    const err = body?.error
    const message = typeof err === 'string' ? err : (err?.message ?? `HTTP ${res.status}`)
    throw Object.assign(new Error(message), { body, status: res.status })
  }
  return body
}

function money(amount, currency) {
  if (amount === null || amount === undefined) return '—'
  return `${Number(amount).toFixed(amount < 1 ? 4 : 2)} ${currency ?? ''}`.trim()
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return ''
  const s = Math.max(0, Math.round(seconds))
  if (s < 90) return `${s} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  return `${(s / 3600).toFixed(1)} h`
}

// ---- status -------------------------------------------------------------------------------

let lastStatus

function renderStatus(status) {
  lastStatus = status
  const state = status.state ?? 'unknown'
  const badge = $('state')
  badge.textContent = state
  badge.dataset.state = state
  $('simulated-banner').hidden = !status.simulated

  const idle = status.idle ?? {}
  $('idle-line').textContent =
    idle.remaining_s === null || idle.remaining_s === undefined
      ? ''
      : `· idle ${idle.action ?? 'action'} in ${duration(idle.remaining_s)}`

  const details = $('instance-details')
  details.replaceChildren()
  const inst = status.instance
  const rows = inst
    ? [
        ['Name', inst.name],
        ['Type', inst.type],
        ['Zone', inst.zone],
        ['Address', inst.ip ?? '—'],
        ['Created', inst.created_at ? new Date(inst.created_at).toLocaleString() : '—'],
        ['Cost so far', money(status.cost?.session, status.cost?.currency)],
      ]
    : [['Instance', 'none (the first request creates one)']]
  for (const [k, v] of rows) details.append(el('dt', {}, k), el('dd', {}, v ?? '—'))

  const busy = ['provisioning', 'booting', 'stopping', 'destroying'].includes(state)
  $('start').disabled = state === 'ready' || busy
  $('stop').disabled = state !== 'ready'
  $('destroy').disabled = state === 'absent' || state === 'destroying'

  renderBoot(status)

  const models = $('models')
  models.replaceChildren()
  const names = (status.models ?? []).map((m) => (typeof m === 'string' ? m : (m.name ?? m.model)))
  if (names.length === 0) models.append(el('li', { className: 'muted' }, 'no models known yet'))
  for (const name of names) models.append(el('li', {}, name))
}

function renderBoot(status) {
  const boot = status.boot
  const show = Boolean(boot) && ['provisioning', 'booting'].includes(status.state)
  $('boot').hidden = !show
  if (!show) return
  $('boot-progress').value = Number(boot.percent ?? 0)
  $('boot-label').textContent = `Boot: ${boot.phase ?? status.state} (${boot.percent ?? 0}%)`
  const list = $('phases')
  list.replaceChildren()
  const current = PHASES.indexOf(boot.phase)
  PHASES.forEach((phase, i) => {
    if (phase === 'gpu-driver' && !boot.gpu) return
    const cls = i < current ? 'done' : i === current ? 'current' : ''
    list.append(el('li', { className: cls }, phase))
  })
}

async function refreshStatus() {
  try {
    renderStatus(await api('/status'))
    $('connection').hidden = true
  } catch (error) {
    $('connection').hidden = false
    $('connection').textContent = `Cannot reach the gateway: ${error.message}`
  }
}

// ---- actions ------------------------------------------------------------------------------

async function action(name, button) {
  const result = $('action-result')
  button.disabled = true
  result.textContent = `${name}…`
  try {
    const body = await api(`/${name}`, { method: 'POST', body: '{}' })
    result.textContent = body?.message ?? `${name} requested`
  } catch (error) {
    result.textContent = `${name} failed: ${error.message}`
  } finally {
    await refreshStatus()
  }
}

// ---- events -------------------------------------------------------------------------------

function addEvent(event) {
  const list = $('events')
  const time = event.ts ? new Date(event.ts).toLocaleTimeString() : ''
  const parts = [
    time,
    event.type,
    event.phase,
    event.message,
    event.duration_ms ? `(${duration(event.duration_ms / 1000)})` : '',
  ]
  const li = el(
    'li',
    { className: event.error_code || event.level === 'error' ? 'err' : '' },
    parts.filter(Boolean).join(' '),
  )
  list.prepend(li)
  while (list.children.length > 200) list.lastChild.remove()
}

function followEvents() {
  const source = new EventSource(`${API}/events`)
  const onData = (msg) => {
    let data
    try {
      data = JSON.parse(msg.data)
    } catch {
      return
    }
    if (data && typeof data.state === 'string' && 'instance' in data) renderStatus(data)
    else if (data) addEvent(data)
  }
  source.addEventListener('message', onData)
  source.addEventListener('status', onData)
  source.addEventListener('lifecycle', onData)
  source.addEventListener('event', onData)
}

// ---- usage --------------------------------------------------------------------------------

async function refreshUsage() {
  let usage
  try {
    usage = await api('/usage')
  } catch {
    return
  }
  const currency = usage.currency ?? lastStatus?.cost?.currency
  const summary = $('usage-summary')
  summary.replaceChildren()
  const card = (title, value) => {
    const d = el('div')
    d.append(el('span', { className: 'muted' }, title), el('strong', {}, value))
    summary.append(d)
  }
  card('This month', money(usage.month?.cost, currency))
  card('Hours this month', (usage.month?.hours ?? 0).toFixed(2))
  card('All time', money(usage.total?.cost, currency))

  const days = usage.by_day ?? []
  const svg = $('usage-chart')
  svg.replaceChildren()
  const max = Math.max(1e-9, ...days.map((d) => d.cost ?? 0))
  const w = 600 / Math.max(days.length, 1)
  days.forEach((d, i) => {
    const h = ((d.cost ?? 0) / max) * 150
    const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect')
    rect.setAttribute('x', String(i * w + 1))
    rect.setAttribute('y', String(158 - h))
    rect.setAttribute('width', String(Math.max(1, w - 2)))
    rect.setAttribute('height', String(h))
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title')
    title.textContent = `${d.day}: ${(d.hours ?? 0).toFixed(2)} h, ${money(d.cost, currency)}`
    rect.append(title)
    svg.append(rect)
  })

  const tbody = $('usage-by-type').querySelector('tbody')
  tbody.replaceChildren()
  for (const row of usage.by_type ?? []) {
    const tr = el('tr')
    tr.append(
      el('td', {}, row.type),
      el('td', {}, (row.hours ?? 0).toFixed(2)),
      el('td', {}, money(row.cost, currency)),
    )
    tbody.append(tr)
  }
}

// ---- settings -----------------------------------------------------------------------------

let schema = []

/** The schema comes from describeSettings(): name, kind, description, expected, choices, unit, secret, restart. */
function fieldFor(meta, entry) {
  const id = `setting-${meta.name}`
  const label = el('label', { htmlFor: id }, LABELS[meta.name] ?? meta.label ?? meta.name)
  const kind = meta.kind ?? meta.type
  const choices = meta.choices ?? meta.options
  const secret = meta.secret || kind === 'secret'
  const locked = Boolean(entry?.locked)
  const current = entry?.text ?? entry?.value
  let input
  if (Array.isArray(choices) && choices.length > 0 && !secret) {
    input = el('select', { id, name: meta.name })
    for (const option of choices) input.append(el('option', { value: option }, option))
    input.value = current ?? meta.default ?? ''
  } else {
    input = el('input', { id, name: meta.name })
    if (secret) {
      input.type = 'password'
      input.autocomplete = 'off'
      input.placeholder = entry?.set ? 'set (leave empty to keep)' : 'not set'
    } else if (kind === 'integer' || kind === 'number') {
      input.type = 'number'
      input.inputMode = 'numeric'
      input.step = kind === 'number' ? 'any' : '1'
      input.value = current ?? ''
    } else if (kind === 'boolean') {
      input.type = 'checkbox'
      input.checked = current === true || current === 'true'
    } else {
      input.type = 'text'
      input.value = current === undefined || current === null ? '' : String(current)
    }
  }
  input.disabled = locked
  input.dataset.original = secret
    ? ''
    : String(input.type === 'checkbox' ? input.checked : input.value)
  const unit = meta.unit ?? UNITS[meta.name]
  const hintText = [
    meta.description ?? '',
    meta.expected ?? meta.accepts ?? (unit ? `in ${unit}` : ''),
    locked ? 'locked: set by the environment' : entry?.source ? `from ${entry.source}` : '',
    meta.restart ? 'applies after a restart' : '',
  ]
    .filter(Boolean)
    .join(' · ')
  const hint = el('span', { className: 'hint', id: `${id}-hint` }, hintText)
  input.setAttribute('aria-describedby', hint.id)
  return { nodes: [label, input, hint], secret }
}

async function refreshSettings() {
  const [values, described] = await Promise.all([
    api('/settings'),
    api('/settings/schema').catch(() => ({ settings: [] })),
  ])
  const map = values.settings ?? values
  schema = described.settings?.length
    ? described.settings
    : Object.keys(map).map((name) => ({
        name,
        secret: 'set' in (map[name] ?? {}) && !('value' in map[name]),
      }))
  schema.sort((a, b) => {
    const ia = FIRST.indexOf(a.name)
    const ib = FIRST.indexOf(b.name)
    return (ia < 0 ? 999 : ia) - (ib < 0 ? 999 : ib)
  })
  const fields = $('settings-fields')
  fields.replaceChildren()
  for (const meta of schema) {
    const field = fieldFor(meta, map[meta.name])
    meta.secret = field.secret
    fields.append(...field.nodes)
  }
}

async function saveSettings(event) {
  event.preventDefault()
  const form = $('settings-form')
  const changes = {}
  for (const meta of schema) {
    const input = form.elements.namedItem(meta.name)
    if (!input || input.disabled) continue
    input.removeAttribute('aria-invalid')
    const value = input.type === 'checkbox' ? String(input.checked) : input.value
    if (meta.secret ? value !== '' : value !== input.dataset.original) changes[meta.name] = value
  }
  $('settings-error').textContent = ''
  $('settings-saved').textContent = ''
  if (Object.keys(changes).length === 0) {
    $('settings-saved').textContent = 'Nothing changed.'
    return
  }
  try {
    await api('/settings', { method: 'PUT', body: JSON.stringify(changes) })
    $('settings-saved').textContent = 'Saved.'
    await refreshSettings()
  } catch (error) {
    $('settings-error').textContent = error.message
    const name = error.body?.error?.setting
    const input = name ? form.elements.namedItem(name) : undefined
    if (input) {
      input.setAttribute('aria-invalid', 'true')
      input.focus()
    }
  }
}

// ---- start --------------------------------------------------------------------------------

$('start').addEventListener('click', (e) => action('start', e.currentTarget))
$('stop').addEventListener('click', (e) => action('stop', e.currentTarget))
$('destroy').addEventListener('click', (e) => {
  if (confirm('Destroy the instance? Its disk and downloaded models are deleted.'))
    action('destroy', e.currentTarget)
})
$('settings-form').addEventListener('submit', saveSettings)

await refreshStatus()
followEvents()
refreshSettings().catch(
  (error) => ($('settings-error').textContent = `Cannot load settings: ${error.message}`),
)
refreshUsage()
setInterval(refreshStatus, 5000)
setInterval(refreshUsage, 60000)
