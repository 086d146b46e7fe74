// How a denied call's scope becomes the grant that allows exactly it.
export const SCOPE_KEY = {
  network: 'hosts',
  subprocess: 'commands',
  filesystem: 'read_paths',
  midi: 'ports',
  system_control: 'system',
  audio: 'sounds',
}

export function scopesFor(request) {
  const s = request.scope
  if (s && typeof s === 'object') return s
  const key = SCOPE_KEY[request.capability]
  return key && s ? { [key]: [s] } : {}
}

export function describe(request) {
  const s = typeof request.scope === 'string' ? request.scope : JSON.stringify(request.scope)
  if (request.capability === 'network') return `${request.plugin} wants to reach ${s}`
  if (request.capability === 'subprocess') return `${request.plugin} wants to run ${s}`
  if (request.capability === 'filesystem') return `${request.plugin} wants to use the file ${s}`
  return `${request.plugin} wants ${request.capability}${s ? ` (${s})` : ''}`
}

export function requestKey(r) {
  return `${r.plugin}\u0000${r.capability}\u0000${JSON.stringify(r.scope)}`
}
