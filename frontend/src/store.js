// The page's view of the daemon: filled from plugins.list / status, then kept current by the
// change feed (/api/events). Nothing here is the truth; the daemon is. A reconnect re-reads all.
import { reactive } from 'vue'
import { call } from './api.js'

export const store = reactive({
  daemon: { up: null, message: '' },
  plugins: {}, // name -> record JSON (the contract's plugin record)
  status: null,
  errors: [], // recent plugin errors and failed reloads, newest first
  lastChange: null, // {seq, kind, at}: the benchmark and tests read it
  dismissed: {}, // permission prompts the user denied (until the request repeats)
})

function records(result) {
  return Array.isArray(result) ? result : result?.plugins || []
}

export async function refreshPlugins() {
  const list = records(await call('plugins.list'))
  const next = {}
  for (const rec of list) next[rec.name] = rec
  store.plugins = next
}

export async function refreshPlugin(name) {
  try {
    store.plugins[name] = await call('plugins.info', { name })
  } catch (e) {
    if (e.status === 404) delete store.plugins[name]
  }
}

export async function refreshStatus() {
  store.status = await call('status')
}

export async function refreshAll() {
  await Promise.allSettled([refreshPlugins(), refreshStatus()])
}

function remember(err) {
  store.errors.unshift({ ...err, at: Date.now() })
  store.errors.splice(20)
}

function apply(change) {
  const { kind, data } = change
  if (kind === 'plugin' && data?.name) {
    const old = store.plugins[data.name]
    if (!old || (old.seq ?? -1) <= (data.seq ?? 0)) store.plugins[data.name] = data
  } else if (kind === 'plugin_removed' && data?.name) {
    delete store.plugins[data.name]
  } else if (kind === 'plugin_error') {
    remember({ source: data?.name || data?.plugin || 'plugin', error: data?.error || data })
    if (data?.name || data?.plugin) refreshPlugin(data.name || data.plugin)
  } else if (kind === 'permission_request' && data?.plugin) {
    const rec = store.plugins[data.plugin]
    if (rec) {
      const others = (rec.pending_requests || []).filter(
        (r) => !(r.capability === data.capability && r.scope === data.scope),
      )
      rec.pending_requests = [...others, data]
    } else refreshPlugin(data.plugin)
  } else if (kind === 'reload') {
    if (store.status) store.status.last_reload = data
    if (data && data.ok === false) remember({ source: 'reload', error: data })
    refreshStatus().catch(() => {})
  } else if (kind === 'mode') {
    if (store.status) store.status.mode = data?.to
  } else if (kind === 'counters') {
    const per = data?.plugins || data || {}
    for (const [name, counters] of Object.entries(per)) {
      if (store.plugins[name] && counters && typeof counters === 'object')
        store.plugins[name].counters = { ...store.plugins[name].counters, ...counters }
    }
  }
  store.lastChange = { seq: change.seq, kind, name: data?.name, at: performance.now() }
}

let source = null
let poller = null

export function follow() {
  if (source) return
  refreshAll().catch(() => {}) // do not wait for the feed's hello to show the list
  source = new EventSource('/api/events')
  source.addEventListener('hello', () => {
    store.daemon = { up: true, message: '' }
    refreshAll()
  })
  source.addEventListener('change', (ev) => apply(JSON.parse(ev.data)))
  source.addEventListener('daemon', (ev) => {
    const d = JSON.parse(ev.data)
    store.daemon = { up: d.up, message: d.message || '' }
    if (d.up && d.watch === false && !poller) {
      // a daemon without the change feed: poll, slowly
      poller = setInterval(() => refreshAll().catch(() => {}), 2000)
      refreshAll()
    }
  })
  source.onerror = () => {
    // the UI server itself went away; EventSource retries by itself
    store.daemon = { up: false, message: 'the UI server does not answer; is `midimon ui` still running?' }
  }
}
