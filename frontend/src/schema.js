// Which config_schemas the generated form handles, and how to split one into the JSON Forms
// part, the key/value maps and the secrets. A richer schema gets the raw JSON editor.
const PRIMITIVE = new Set(['string', 'number', 'integer', 'boolean'])

export function isPrimitive(s) {
  if (!s || typeof s !== 'object') return false
  if (Array.isArray(s.enum)) return true
  return PRIMITIVE.has(s.type)
}
export const isSecret = (s) => !!s && (s.secret === true || s.writeOnly === true)
export const isArrayOfPrimitives = (s) => s?.type === 'array' && isPrimitive(s.items)
export function isMap(s) {
  if (s?.type !== 'object' || Object.keys(s.properties || {}).length) return false
  const ap = s.additionalProperties
  return ap === true || isPrimitive(ap)
}

export function plan(schema) {
  const props = schema?.properties
  if (!schema || (schema.type && schema.type !== 'object') || !props || typeof props !== 'object') return null
  const out = { form: [], maps: [], secrets: [] }
  for (const [key, s] of Object.entries(props)) {
    if (isSecret(s) && isPrimitive(s)) out.secrets.push(key)
    else if (isMap(s)) out.maps.push(key)
    else if (isPrimitive(s) || isArrayOfPrimitives(s)) out.form.push(key)
    else return null
  }
  return out
}

export const labelOf = (schema, key) => schema?.properties?.[key]?.title || key

// the JSON Forms part: only the fields it renders, each labelled by its title or its key
export function formParts(schema, keys) {
  const properties = {}
  for (const k of keys) properties[k] = { ...schema.properties[k], title: labelOf(schema, k) }
  return {
    schema: { type: 'object', properties },
    uischema: {
      type: 'VerticalLayout',
      elements: keys.map((k) => ({ type: 'Control', scope: `#/properties/${k}`, label: labelOf(schema, k) })),
    },
  }
}
