// The page's only door to the UI server. Mutations carry the custom header the server's CSRF
// guard asks for; the cookie (HttpOnly) rides along by itself.

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`)
    this.status = status
    this.code = error?.code || 'error'
    this.detail = error || {}
  }
}

async function parse(resp) {
  let body = null
  try {
    body = await resp.json()
  } catch {
    throw new ApiError(resp.status, { message: `the UI server answered HTTP ${resp.status}` })
  }
  if (!resp.ok || body.ok === false) throw new ApiError(resp.status, body.error)
  return body
}

// one socket command of the daemon: the same names and arguments as docs/control-protocol.md
export async function call(command, args = {}) {
  const resp = await fetch(`/api/call/${encodeURIComponent(command)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-midimon-ui': '1' },
    body: JSON.stringify(args),
    credentials: 'same-origin',
  })
  return (await parse(resp)).result
}

export async function post(path, args = {}) {
  const resp = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-midimon-ui': '1' },
    body: JSON.stringify(args),
    credentials: 'same-origin',
  })
  return parse(resp)
}

export async function get(path) {
  return parse(await fetch(path, { credentials: 'same-origin' }))
}

export async function upload(file) {
  const form = new FormData()
  form.append('file', file, file.name)
  const resp = await fetch('/api/upload', {
    method: 'POST',
    headers: { 'x-midimon-ui': '1' },
    body: form,
    credentials: 'same-origin',
  })
  return (await parse(resp)).review
}
