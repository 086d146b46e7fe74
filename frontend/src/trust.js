export const TRUST_LABEL = {
  first_party: 'first-party',
  signed: 'signed',
  unsigned: 'unsigned',
  invalid: 'signature invalid',
  modified: 'modified since signed',
  trusted: 'trusted entry point',
}

export function trustOf(rec) {
  return rec?.signature?.status || (rec?.source === 'first_party' ? 'first_party' : 'unsigned')
}

export function safeLink(url) {
  // only http(s) links: a javascript: or data: homepage stays text
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}
