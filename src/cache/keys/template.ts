/**
 * Event rules: `{ event: 'user.updated', keys: ['get_user:{id}', 'get_user_profile:*'] }`.
 * When the event is published, each key template is filled from the event's
 * data (`{id}`, or a dot path `{user.id}`), encoded as action keys encode values
 * (so `{id}` = 123 gives `get_user:123`, the key `keys: ['id']` produced); a key
 * with `*` or `?` then revokes by pattern, one without deletes that key.
 */
import { encodeKeyValue } from './builder.js';

const PLACEHOLDER = /\{([A-Za-z0-9_$.-]+)\}/g;

/** Fills `{field}` placeholders from `data`; undefined when a field is missing. */
export function fillTemplate(template: string, data: unknown): { key: string } | { missing: string } {
  let missing: string | undefined;
  const key = template.replace(PLACEHOLDER, (_m, path: string) => {
    let v: unknown = data;
    for (const part of path.split('.')) {
      v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    }
    if (v === undefined) {
      missing ??= path;
      return '';
    }
    return encodeKeyValue(v);
  });
  return missing === undefined ? { key } : { missing };
}
