// How a denied call becomes the grant that allows exactly it. The daemon names a scope denial by
// its scope item ("hosts=https://api.spotify.com"), a missing capability by the call ("http.get").
const SCOPE_WORDS = new Set([
  'hosts', 'brokers', 'publish', 'subscribe', 'read_paths', 'write_paths', 'commands', 'ports', 'sysex', 'system', 'apps', 'sounds',
])

function split(scope) {
  if (typeof scope !== 'string') return null
  const i = scope.indexOf('=')
  if (i <= 0) return null
  const key = scope.slice(0, i)
  return SCOPE_WORDS.has(key) ? { key, value: scope.slice(i + 1) } : null
}

export function scopesFor(request) {
  if (request.scope && typeof request.scope === 'object') return request.scope
  const s = split(request.scope)
  return s ? { [s.key]: [s.value] } : {}
}

function hostOf(value) {
  try {
    return new URL(value).host || value
  } catch {
    return value
  }
}

export function describe(r) {
  const s = split(r.scope)
  if (s && (s.key === 'hosts' || s.key === 'brokers')) return `${r.plugin} wants to reach ${hostOf(s.value)}`
  if (s && s.key === 'commands') return `${r.plugin} wants to run ${s.value}`
  if (s && (s.key === 'read_paths' || s.key === 'write_paths')) return `${r.plugin} wants to use ${s.value}`
  if (s) return `${r.plugin} wants ${r.capability}: ${s.key} ${s.value}`
  return `${r.plugin} wants the ${r.capability} capability (for ${r.scope})`
}

export function requestKey(r) {
  return `${r.plugin}\u0000${r.capability}\u0000${JSON.stringify(r.scope)}`
}
